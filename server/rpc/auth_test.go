package rpc

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"google.golang.org/protobuf/reflect/protoreflect"

	pb "github.com/proactivechat/proactivechat/gen/proactivechat/v1"
	"github.com/proactivechat/proactivechat/gen/proactivechat/v1/proactivechatv1connect"
	"github.com/proactivechat/proactivechat/server/domain"
)

// TestEveryProcedureHasARule: a new RPC without an access rule would be
// refused to everyone; this says so before anyone finds out.
func TestEveryProcedureHasARule(t *testing.T) {
	procs := Procedures()
	for _, p := range procs {
		if _, ok := rules[p]; !ok {
			t.Errorf("%s has no access rule", p)
		}
	}
	for p := range rules {
		if !slices.Contains(procs, p) {
			t.Errorf("rule for %s, which is not served", p)
		}
	}
}

// TestEveryStreamIsCapped: every long-lived stream is capped per
// credential, but the widget's, which the presence tracker caps per
// visitor; and a principal a rule lets open a stream has room for some.
func TestEveryStreamIsCapped(t *testing.T) {
	for _, f := range []protoreflect.FileDescriptor{
		pb.File_proactivechat_v1_admin_service_proto, pb.File_proactivechat_v1_visitor_service_proto,
		pb.File_proactivechat_v1_agent_service_proto, pb.File_proactivechat_v1_chat_service_proto,
	} {
		for i := range f.Services().Len() {
			svc := f.Services().Get(i)
			for j := range svc.Methods().Len() {
				m := svc.Methods().Get(j)
				proc := fmt.Sprintf("/%s/%s", svc.FullName(), m.Name())
				r := rules[proc]
				switch {
				case !m.IsStreamingServer() && !m.IsStreamingClient():
					if r.stream != 0 {
						t.Errorf("%s is unary but capped as a stream", proc)
					}
				case proc == proactivechatv1connect.VisitorServiceWatchVisitorProcedure:
					// domain.MaxStreamsPerVisitor
				case r.stream == 0:
					t.Errorf("%s is a stream without a cap per credential", proc)
				}
			}
		}
	}
	// The principals each capped stream's rule may allow, by the README.
	for proc, kinds := range map[string][]domain.PrincipalKind{
		proactivechatv1connect.AgentServiceWatchAgentProcedure:    {domain.AgentPrincipal},
		proactivechatv1connect.AgentServiceWatchPresenceProcedure: {domain.AgentPrincipal},
		proactivechatv1connect.ChatServiceWatchChatProcedure:      {domain.AgentPrincipal, domain.AdminPrincipal, domain.VisitorPrincipal},
		proactivechatv1connect.ChatServiceConverseProcedure:       {domain.AgentPrincipal, domain.VisitorPrincipal},
	} {
		for _, k := range kinds {
			if domain.StreamCapOf(rules[proc].stream).For(k) < 1 {
				t.Errorf("%s: a %s may open none", proc, k)
			}
		}
	}
}

func TestBearerToken(t *testing.T) {
	for header, want := range map[string]string{
		"":                   "",
		"Bearer abc":         "abc",
		"bearer abc":         "abc",
		"BEARER  abc ":       "abc",
		"Basic dXNlcjpwdw==": "!",
		"Bearer":             "!",
		"Bearer   ":          "!",
		"abc":                "!",
	} {
		h := http.Header{}
		if header != "" {
			h.Set("Authorization", header)
		}
		got, err := bearerToken(h)
		if err != nil {
			if want != "!" || domain.ErrorCode(err) != domain.CodeUnauthenticated {
				t.Errorf("%q: error %v, want token %q", header, err, want)
			}
			continue
		}
		if got != want {
			t.Errorf("%q: token %q, want %q", header, got, want)
		}
	}
}

// FuzzBearerToken: whatever the header, the result is an Unauthenticated
// error or the trimmed credential of a Bearer header.
func FuzzBearerToken(f *testing.F) {
	for _, s := range []string{"", "Bearer abc", "bearer\tabc", "Basic x", "Bearer ", " Bearer x", "Bearer a b", "Bearer \xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, header string) {
		h := http.Header{}
		h["Authorization"] = []string{header}
		tok, err := bearerToken(h)
		if err != nil {
			if domain.ErrorCode(err) != domain.CodeUnauthenticated {
				t.Fatalf("%q: error %v is not Unauthenticated", header, err)
			}
			return
		}
		if header == "" {
			if tok != "" {
				t.Fatalf("no header gave token %q", tok)
			}
			return
		}
		scheme, rest, _ := strings.Cut(header, " ")
		if !strings.EqualFold(scheme, "Bearer") || tok == "" || tok != strings.TrimSpace(rest) {
			t.Fatalf("%q: token %q", header, tok)
		}
	})
}
