package domain

import (
	"errors"
	"fmt"
)

// Code classifies an error the way callers need to react to it.
type Code string

// Error codes. Transports map them onto their own (gRPC codes, HTTP statuses).
const (
	CodeInvalid            Code = "invalid_argument"
	CodeNotFound           Code = "not_found"
	CodeAlreadyExists      Code = "already_exists"
	CodeFailedPrecondition Code = "failed_precondition"
	CodeUnauthenticated    Code = "unauthenticated"
	CodePermissionDenied   Code = "permission_denied"
	CodeResourceExhausted  Code = "resource_exhausted"
	CodeUnavailable        Code = "unavailable"
	CodeInternal           Code = "internal"
)

// FieldViolation names one request field that is wrong and why.
type FieldViolation struct {
	Field       string
	Description string
}

// Error is an error the domain reports on purpose, with a code and a message
// meant for the caller.
type Error struct {
	Code       Code
	Message    string
	Violations []FieldViolation
}

func (e *Error) Error() string { return e.Message }

// Errorf returns an *Error with the given code and formatted message.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of err, CodeInternal for errors the domain did
// not produce on purpose, and "" for nil.
func ErrorCode(err error) Code {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return CodeInternal
}

// Violations collects field violations and turns them into one
// CodeInvalid error.
type Violations []FieldViolation

// Add records that field is wrong.
func (v *Violations) Add(field, format string, args ...any) {
	*v = append(*v, FieldViolation{Field: field, Description: fmt.Sprintf(format, args...)})
}

// Err returns nil when nothing was added, else a CodeInvalid *Error whose
// message names every field.
func (v Violations) Err() error {
	if len(v) == 0 {
		return nil
	}
	msg := ""
	for i, f := range v {
		if i > 0 {
			msg += "; "
		}
		msg += f.Field + ": " + f.Description
	}
	return &Error{Code: CodeInvalid, Message: msg, Violations: v}
}
