package app_test

import (
	"context"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"connectrpc.com/connect"

	pb "github.com/proactivechat/proactivechat/gen/proactivechat/v1"
	"github.com/proactivechat/proactivechat/server/app"
)

// TestPrivacyOverREST exports a visitor's chat over REST, is refused
// erasing them while they chat, and erases them once they have left: their
// export is gone and their old token starts a new session.
func TestPrivacyOverREST(t *testing.T) {
	a := runApp(t, app.Config{Addr: "127.0.0.1:0", DBPath: filepath.Join(t.TempDir(), "privacy.db"), PresenceGrace: 100 * time.Millisecond})
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	c := signed(t, a, &restClient{base: "http://" + a.Addr().String(), hc: &http.Client{Transport: tr}})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	site := must[*pb.CreateSiteResponse](t, "CreateSite")(c.CreateSite(ctx, &pb.CreateSiteRequest{Name: "Shop",
		ProactiveChat: &pb.ProactiveChatSettings{Enabled: true, Mode: pb.ProactiveChatMode_PROACTIVE_CHAT_MODE_WITHOUT_INVITE, LaunchAfterSeconds: 3600}})).GetSite()
	agent := must[*pb.CreateAgentResponse](t, "CreateAgent")(c.CreateAgent(ctx, &pb.CreateAgentRequest{DisplayName: "Dana", SiteIds: []string{site.GetId()}})).GetAgent()
	must[*pb.SetAgentStatusResponse](t, "SetAgentStatus")(c.SetAgentStatus(ctx, &pb.SetAgentStatusRequest{AgentId: agent.GetId(), Status: pb.AgentStatus_AGENT_STATUS_AVAILABLE}))
	session := must[*pb.StartVisitorSessionResponse](t, "StartVisitorSession")(c.StartVisitorSession(ctx, &pb.StartVisitorSessionRequest{SiteId: site.GetId()}))
	vid := session.GetVisitor().GetId()
	widget, err := c.WatchVisitor(ctx, &pb.WatchVisitorRequest{VisitorId: vid, PageUrl: "https://shop.example/"})
	if err != nil {
		t.Fatal(err)
	}
	defer widget.Close()
	if _, err := widget.Recv(); err != nil {
		t.Fatal(err)
	}

	chat := must[*pb.StartChatResponse](t, "StartChat")(c.StartChat(ctx, &pb.StartChatRequest{AgentId: agent.GetId(), VisitorId: vid})).GetChat()
	must[*pb.SendMessageResponse](t, "SendMessage")(c.SendMessage(ctx, &pb.SendMessageRequest{ChatId: chat.GetId(), SenderId: vid, Text: "my address is 1 Main St"}))
	if err := erase(ctx, c, vid); connect.CodeOf(err) != connect.CodeFailedPrecondition {
		t.Fatalf("EraseVisitor while chatting: %v, want failed precondition", err)
	}

	x, err := export(ctx, c, vid)
	if err != nil {
		t.Fatal(err)
	}
	if x.GetVisitor().GetId() != vid || len(x.GetChats()) != 1 || x.GetChats()[0].GetId() != chat.GetId() {
		t.Fatalf("export = %v, want the visitor and chat %s", x, chat.GetId())
	}
	var texts []string
	for _, ev := range x.GetChatEvents() {
		if m := ev.GetMessage(); m != nil {
			texts = append(texts, m.GetText())
		}
	}
	if len(x.GetChatEvents()) != 2 || len(texts) != 1 || texts[0] != "my address is 1 Main St" {
		t.Fatalf("exported events = %v, want the start and the message", x.GetChatEvents())
	}

	must[*pb.LeaveChatResponse](t, "LeaveChat")(c.LeaveChat(ctx, &pb.LeaveChatRequest{ChatId: chat.GetId(), ParticipantId: vid}))
	must[*pb.LeaveChatResponse](t, "LeaveChat")(c.LeaveChat(ctx, &pb.LeaveChatRequest{ChatId: chat.GetId(), ParticipantId: agent.GetId()}))
	widget.Close()
	// The visitor is online until the presence grace period has passed.
	for {
		err = erase(ctx, c, vid)
		if connect.CodeOf(err) != connect.CodeFailedPrecondition {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("EraseVisitor after they left: %v", err)
	}

	if _, err := export(ctx, c, vid); connect.CodeOf(err) != connect.CodeNotFound {
		t.Fatalf("export after erasing: %v, want not found", err)
	}
	if err := erase(ctx, c, vid); connect.CodeOf(err) != connect.CodeNotFound {
		t.Fatalf("erasing again: %v, want not found", err)
	}
	_, err = c.GetChat(ctx, &pb.GetChatRequest{ChatId: chat.GetId()})
	if connect.CodeOf(err) != connect.CodeNotFound {
		t.Fatalf("GetChat of an erased visitor's chat: %v, want not found", err)
	}
	again := must[*pb.StartVisitorSessionResponse](t, "StartVisitorSession")(c.StartVisitorSession(ctx, &pb.StartVisitorSessionRequest{SiteId: site.GetId(), ResumeToken: session.GetToken()}))
	if again.GetResumed() || again.GetVisitor().GetId() == vid {
		t.Fatalf("old token after erasing: resumed %v as %s, want a new visitor", again.GetResumed(), again.GetVisitor().GetId())
	}
}

func export(ctx context.Context, c api, visitorID string) (*pb.ExportVisitorResponse, error) {
	return c.ExportVisitor(ctx, &pb.ExportVisitorRequest{VisitorId: visitorID})
}

func erase(ctx context.Context, c api, visitorID string) error {
	_, err := c.EraseVisitor(ctx, &pb.EraseVisitorRequest{VisitorId: visitorID})
	return err
}
