package protoconv

import (
	pb "github.com/proactivechat/proactivechat/gen/proactivechat/v1"
	"github.com/proactivechat/proactivechat/server/domain"
)

// VisitorToProto converts a visitor; nil gives nil.
func VisitorToProto(v *domain.Visitor) *pb.Visitor {
	if v == nil {
		return nil
	}
	return &pb.Visitor{
		Id:           v.ID,
		SiteId:       v.SiteID,
		CreateTime:   TimeToProto(v.CreateTime),
		CurrentPage:  PageViewToProto(v.CurrentPage),
		ActiveChatId: v.ActiveChatID,
	}
}

// VisitorFromProto converts a visitor; nil gives nil.
func VisitorFromProto(v *pb.Visitor) *domain.Visitor {
	if v == nil {
		return nil
	}
	return &domain.Visitor{
		ID:           v.GetId(),
		SiteID:       v.GetSiteId(),
		CreateTime:   TimeFromProto(v.GetCreateTime()),
		CurrentPage:  PageViewFromProto(v.GetCurrentPage()),
		ActiveChatID: v.GetActiveChatId(),
	}
}

// PageViewToProto converts a page view.
func PageViewToProto(p domain.PageView) *pb.PageView {
	return &pb.PageView{
		Url:      p.URL,
		Title:    p.Title,
		ViewTime: TimeToProto(p.ViewTime),
	}
}

// PageViewFromProto converts a page view; nil gives the zero value.
func PageViewFromProto(p *pb.PageView) domain.PageView {
	return domain.PageView{
		URL:      p.GetUrl(),
		Title:    p.GetTitle(),
		ViewTime: TimeFromProto(p.GetViewTime()),
	}
}
