package app_test

import (
	"slices"
	"strings"
	"testing"

	"connectrpc.com/connect"

	pb "github.com/proactivechat/proactivechat/gen/proactivechat/v1"
)

// TestCannedReplies creates, lists, updates and deletes a site's canned
// replies on every protocol, with each field checked.
func TestCannedReplies(t *testing.T) {
	forEachProtocol(t, func(t *testing.T, p protocol) {
		srv, _ := newServer(t)
		c := p.newClient(t, srv)
		ctx := testContext(t)
		site := createSite(t, ctx, c, "Shoe shop", enabledWithoutInvite())
		other := createSite(t, ctx, c, "Hat shop", nil)

		create := func(cr *pb.CannedReply) (*pb.CannedReply, error) {
			res, err := c.CreateCannedReply(ctx, &pb.CreateCannedReplyRequest{CannedReply: cr})
			return res.GetCannedReply(), err
		}
		price := must[*pb.CannedReply](t, "CreateCannedReply")(create(&pb.CannedReply{
			SiteId: site.GetId(), Shortcut: "/price", Title: "Prices", Text: "Hi {visitor.name}, our prices start at 10 €.",
		}))
		if price.GetId() == "" || price.GetShortcut() != "/price" {
			t.Fatalf("created %v", price)
		}
		must[*pb.CannedReply](t, "CreateCannedReply")(create(&pb.CannedReply{SiteId: site.GetId(), Shortcut: "/hello", Title: "Hello", Text: "Hello, I am {agent.name}."}))
		// The same shortcut on another site is another reply.
		must[*pb.CannedReply](t, "CreateCannedReply")(create(&pb.CannedReply{SiteId: other.GetId(), Shortcut: "/price", Title: "Hats", Text: "Hats from 5 €."}))

		t.Run("ErrShortcutTaken", func(t *testing.T) {
			_, err := create(&pb.CannedReply{SiteId: site.GetId(), Shortcut: "/price", Title: "Again", Text: "Again"})
			wantCode(t, err, connect.CodeAlreadyExists)
		})
		t.Run("ErrInvalid", func(t *testing.T) {
			for field, cr := range map[string]*pb.CannedReply{
				"shortcut": {SiteId: site.GetId(), Shortcut: "price", Title: "T", Text: "x"},
				"title":    {SiteId: site.GetId(), Shortcut: "/t", Title: " ", Text: "x"},
				"text":     {SiteId: site.GetId(), Shortcut: "/u", Title: "T", Text: strings.Repeat("é", 2001)},
				"site_id":  {Shortcut: "/v", Title: "T", Text: "x"},
			} {
				if field == "site_id" && p.name == "REST" {
					continue // the site is in the path: no route without it
				}
				_, err := create(cr)
				wantCode(t, err, connect.CodeInvalidArgument)
				if f := badRequestFields(err); !slices.Contains(f, field) {
					t.Errorf("%s: fields %v", field, f)
				}
			}
			for _, bad := range []string{"/", "/Price", "/a b", "/" + strings.Repeat("a", 33)} {
				_, err := create(&pb.CannedReply{SiteId: site.GetId(), Shortcut: bad, Title: "T", Text: "x"})
				wantCode(t, err, connect.CodeInvalidArgument)
			}
		})

		list := func() []string {
			res := must[*pb.ListCannedRepliesResponse](t, "ListCannedReplies")(c.ListCannedReplies(ctx, &pb.ListCannedRepliesRequest{SiteId: site.GetId()}))
			var out []string
			for _, r := range res.GetCannedReplies() {
				out = append(out, r.GetShortcut()+"="+r.GetTitle())
			}
			return out
		}
		if got, want := list(), []string{"/hello=Hello", "/price=Prices"}; !slices.Equal(got, want) {
			t.Fatalf("list = %v, want %v", got, want)
		}

		price.Shortcut, price.Title = "/prices", "All prices"
		must[*pb.UpdateCannedReplyResponse](t, "UpdateCannedReply")(c.UpdateCannedReply(ctx, &pb.UpdateCannedReplyRequest{CannedReply: price}))
		if got, want := list(), []string{"/hello=Hello", "/prices=All prices"}; !slices.Equal(got, want) {
			t.Fatalf("after update: %v, want %v", got, want)
		}
		t.Run("UpdateErrShortcutTaken", func(t *testing.T) {
			dup := &pb.CannedReply{Id: price.GetId(), SiteId: site.GetId(), Shortcut: "/hello", Title: "T", Text: "x"}
			_, err := c.UpdateCannedReply(ctx, &pb.UpdateCannedReplyRequest{CannedReply: dup})
			wantCode(t, err, connect.CodeAlreadyExists)
		})
		t.Run("UpdateErrNotFound", func(t *testing.T) {
			// A reply is found only under its own site.
			moved := &pb.CannedReply{Id: price.GetId(), SiteId: other.GetId(), Shortcut: "/x", Title: "T", Text: "x"}
			_, err := c.UpdateCannedReply(ctx, &pb.UpdateCannedReplyRequest{CannedReply: moved})
			wantCode(t, err, connect.CodeNotFound)
		})

		must[*pb.DeleteCannedReplyResponse](t, "DeleteCannedReply")(c.DeleteCannedReply(ctx, &pb.DeleteCannedReplyRequest{SiteId: site.GetId(), CannedReplyId: price.GetId()}))
		if got, want := list(), []string{"/hello=Hello"}; !slices.Equal(got, want) {
			t.Fatalf("after delete: %v, want %v", got, want)
		}
		_, err := c.DeleteCannedReply(ctx, &pb.DeleteCannedReplyRequest{SiteId: site.GetId(), CannedReplyId: price.GetId()})
		wantCode(t, err, connect.CodeNotFound)
	})
}
