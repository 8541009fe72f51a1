package domain_test

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/proactivechat/proactivechat/server/domain"
)

func TestExportAndEraseVisitor(t *testing.T) {
	e := newEngine(t)
	pc := withInvite()
	pc.FormFields = contactForm()
	e.site(t, "shop", pc)
	e.agent(t, "agent-a", "Ada", 3, "shop")
	e.setStatus(t, "agent-a", domain.StatusAvailable)
	console, _ := e.console(t, "agent-a")
	v, token, _, err := e.svc.StartVisitorSession(ctx(t), "shop", "")
	if err != nil {
		t.Fatal(err)
	}
	vid := v.ID
	other := e.visitor(t, "shop")

	p, _ := e.page(t, vid, home)
	e.clock.Advance(30 * time.Second)
	inv := p.next(t, invited).State.Invitation
	wantCode(t, e.svc.EraseVisitor(ctx(t), vid), domain.CodeFailedPrecondition) // invited, online
	e.respond(t, vid, inv.ID, true)
	st, err := e.svc.SubmitForm(ctx(t), vid, validForm())
	if err != nil {
		t.Fatal(err)
	}
	req := st.Queue.RequestID
	wantCode(t, e.svc.EraseVisitor(ctx(t), vid), domain.CodeFailedPrecondition) // queued
	e.alerted(t, console, req)
	chat := e.accept(t, "agent-a", req)
	e.send(t, chat.ID, vid, "Do you ship to Norway?")
	e.send(t, chat.ID, "agent-a", "We do.")
	err = e.svc.EraseVisitor(ctx(t), vid)
	wantCode(t, err, domain.CodeFailedPrecondition) // chatting
	e.leave(t, chat.ID, vid)
	e.leave(t, chat.ID, "agent-a")
	err = e.svc.EraseVisitor(ctx(t), vid)
	wantCode(t, err, domain.CodeFailedPrecondition) // still on the site
	if !strings.Contains(err.Error(), "online") {
		t.Errorf("erasing an online visitor: %v, want it to say they are online", err)
	}

	x, err := e.svc.ExportVisitor(ctx(t), vid)
	if err != nil {
		t.Fatal(err)
	}
	if x.Visitor.ID != vid || x.Visitor.SiteID != "shop" {
		t.Errorf("exported visitor = %+v", x.Visitor)
	}
	if len(x.Invitations) != 1 || x.Invitations[0].ID != inv.ID || x.Invitations[0].State != domain.InvitationAccepted {
		t.Errorf("exported invitations = %+v, want %s accepted", x.Invitations, inv.ID)
	}
	if len(x.ChatRequests) != 1 || x.ChatRequests[0].ID != req || x.ChatRequests[0].FormValues["email"] != "ann@example.com" {
		t.Errorf("exported chat requests = %+v, want %s with the form values", x.ChatRequests, req)
	}
	if len(x.Chats) != 1 || x.Chats[0].ID != chat.ID || x.Chats[0].State != domain.ChatStateEnded {
		t.Errorf("exported chats = %+v, want %s ended", x.Chats, chat.ID)
	}
	events, _, err := e.svc.ListChatEvents(ctx(t), chat.ID, 0, domain.MaxPageSize)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(x.ChatEvents, events) {
		t.Errorf("exported events = %+v, want the chat's %+v", x.ChatEvents, events)
	}

	p.stop()
	e.clock.Advance(grace + time.Second) // the visitor leaves
	if err := e.svc.EraseVisitor(ctx(t), vid); err != nil {
		t.Fatal(err)
	}
	_, err = e.svc.ExportVisitor(ctx(t), vid)
	wantCode(t, err, domain.CodeNotFound)
	wantCode(t, e.svc.EraseVisitor(ctx(t), vid), domain.CodeNotFound)
	_, err = e.svc.GetChat(ctx(t), chat.ID)
	wantCode(t, err, domain.CodeNotFound)
	err = e.store.View(ctx(t), func(tx domain.ReadTx) error {
		_, err := tx.ChatRequest(req)
		wantCode(t, err, domain.CodeNotFound)
		_, err = tx.Invitation(inv.ID)
		wantCode(t, err, domain.CodeNotFound)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range e.decisions(t, "shop") {
		if d.ChatRequestID == req {
			t.Errorf("routing decision about %s survived erasure: %+v", req, d)
		}
	}
	if _, err := e.svc.ExportVisitor(ctx(t), other); err != nil {
		t.Errorf("another visitor after erasing %s: %v", vid, err)
	}

	// The old token starts a new session, as any unknown token does.
	again, _, resumed, err := e.svc.StartVisitorSession(ctx(t), "shop", token)
	if err != nil {
		t.Fatal(err)
	}
	if resumed || again.ID == vid {
		t.Errorf("old token resumed %v as %s, want a new visitor", resumed, again.ID)
	}
	x, err = e.svc.ExportVisitor(ctx(t), again.ID)
	if err != nil || len(x.Chats)+len(x.Invitations)+len(x.ChatRequests) != 0 {
		t.Errorf("new visitor's export = %+v, %v; want nothing of the old one", x, err)
	}

	_, err = e.svc.ExportVisitor(ctx(t), "")
	wantCode(t, err, domain.CodeInvalid)
	wantCode(t, e.svc.EraseVisitor(ctx(t), ""), domain.CodeInvalid)
}
