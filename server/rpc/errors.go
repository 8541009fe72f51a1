package rpc

import (
	"context"
	"errors"
	"log/slog"

	"connectrpc.com/connect"
	"google.golang.org/genproto/googleapis/rpc/errdetails"

	"github.com/proactivechat/proactivechat/server/domain"
)

var codes = map[domain.Code]connect.Code{
	domain.CodeInvalid:            connect.CodeInvalidArgument,
	domain.CodeNotFound:           connect.CodeNotFound,
	domain.CodeAlreadyExists:      connect.CodeAlreadyExists,
	domain.CodeFailedPrecondition: connect.CodeFailedPrecondition,
	domain.CodeUnauthenticated:    connect.CodeUnauthenticated,
	domain.CodePermissionDenied:   connect.CodePermissionDenied,
	domain.CodeResourceExhausted:  connect.CodeResourceExhausted,
	domain.CodeUnavailable:        connect.CodeUnavailable,
	domain.CodeInternal:           connect.CodeInternal,
}

// toConnectError turns a domain error into the Connect error every protocol
// reports: the same code, the domain's message, and field violations as a
// google.rpc.BadRequest detail. Errors the domain did not make on purpose are
// logged and reported as a bare internal error, never with their text.
func toConnectError(ctx context.Context, log *slog.Logger, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, context.Canceled) {
		return connect.NewError(connect.CodeCanceled, err)
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return connect.NewError(connect.CodeDeadlineExceeded, err)
	}
	var cerr *connect.Error
	if errors.As(err, &cerr) {
		return cerr
	}
	var derr *domain.Error
	if !errors.As(err, &derr) || derr.Code == domain.CodeInternal {
		log.ErrorContext(ctx, "internal error", "err", err)
		return connect.NewError(connect.CodeInternal, errors.New("internal error"))
	}
	out := connect.NewError(codes[derr.Code], errors.New(derr.Message))
	if len(derr.Violations) > 0 {
		br := &errdetails.BadRequest{}
		for _, v := range derr.Violations {
			br.FieldViolations = append(br.FieldViolations, &errdetails.BadRequest_FieldViolation{Field: v.Field, Description: v.Description})
		}
		if detail, err := connect.NewErrorDetail(br); err == nil {
			out.AddDetail(detail)
		}
	}
	return out
}
