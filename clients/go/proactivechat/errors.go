package proactivechat

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// Error is an error the server returned, from either transport.
type Error struct {
	// Code is the RPC code; Connect's codes are gRPC's, by number.
	Code connect.Code
	// Message is the server's message, without the code.
	Message string
	// FieldViolations say which request fields were invalid and why
	// (google.rpc.BadRequest); empty for other errors.
	FieldViolations []FieldViolation
	// RetryAfter is how long to wait before trying again
	// (google.rpc.RetryInfo, or a Connect Retry-After header); 0 when the
	// server did not say.
	RetryAfter time.Duration

	err error
}

// FieldViolation is one invalid field of a request.
type FieldViolation struct {
	// Field is the field's path, e.g. "allowed_origins[0]".
	Field       string
	Description string
}

// Error returns the code, the message and the field violations.
func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %s", e.Code, e.Message)
	for i, v := range e.FieldViolations {
		if i == 0 {
			b.WriteString(" (")
		} else {
			b.WriteString("; ")
		}
		fmt.Fprintf(&b, "%s: %s", v.Field, v.Description)
		if i == len(e.FieldViolations)-1 {
			b.WriteString(")")
		}
	}
	return b.String()
}

// Unwrap returns the transport's error (a *connect.Error or a gRPC status
// error).
func (e *Error) Unwrap() error { return e.err }

// AsError returns the RPC error in err, from a Connect or a grpc-go call:
// the server's, or one the transport made with a code (UNAVAILABLE when
// the server cannot be reached). It returns false when err is nil or has
// no RPC code (e.g. a bare context.Canceled).
func AsError(err error) (*Error, bool) {
	if err == nil {
		return nil, false
	}
	var e *Error
	if errors.As(err, &e) {
		return e, true
	}
	var ce *connect.Error
	if errors.As(err, &ce) {
		e := &Error{Code: ce.Code(), Message: ce.Message(), err: err}
		for _, d := range ce.Details() {
			if v, derr := d.Value(); derr == nil {
				e.addDetail(v)
			}
		}
		if e.RetryAfter == 0 {
			if s, perr := strconv.Atoi(ce.Meta().Get("Retry-After")); perr == nil && s > 0 {
				e.RetryAfter = time.Duration(s) * time.Second
			}
		}
		return e, true
	}
	var gs interface{ GRPCStatus() *status.Status }
	if errors.As(err, &gs) && gs.GRPCStatus() != nil {
		st := gs.GRPCStatus()
		e := &Error{Code: connect.Code(st.Code()), Message: st.Message(), err: err}
		for _, d := range st.Details() {
			if m, ok := d.(proto.Message); ok {
				e.addDetail(m)
			}
		}
		return e, true
	}
	return nil, false
}

func (e *Error) addDetail(m proto.Message) {
	switch d := m.(type) {
	case *errdetails.BadRequest:
		for _, v := range d.GetFieldViolations() {
			e.FieldViolations = append(e.FieldViolations, FieldViolation{Field: v.GetField(), Description: v.GetDescription()})
		}
	case *errdetails.RetryInfo:
		if d.GetRetryDelay() != nil {
			e.RetryAfter = d.GetRetryDelay().AsDuration()
		}
	}
}
