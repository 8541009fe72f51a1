package app

import (
	"context"
	"fmt"
	"log/slog"
)

// natsLog writes the embedded NATS server's log to the node's: its
// warnings and errors (a slow consumer, a stream falling behind, a route
// refused) at their level, and its notices (a stream group's new leader,
// an election, the start-up banner) at Debug, where they explain a
// failover without filling an operator's log.
type natsLog struct{ log *slog.Logger }

func (l natsLog) out(level slog.Level, format string, v []any) {
	if l.log.Enabled(context.Background(), level) {
		l.log.Log(context.Background(), level, fmt.Sprintf(format, v...), "from", "nats")
	}
}

func (l natsLog) Noticef(format string, v ...any) { l.out(slog.LevelDebug, format, v) }
func (l natsLog) Warnf(format string, v ...any)   { l.out(slog.LevelWarn, format, v) }
func (l natsLog) Fatalf(format string, v ...any)  { l.out(slog.LevelError, format, v) }
func (l natsLog) Errorf(format string, v ...any)  { l.out(slog.LevelError, format, v) }
func (l natsLog) Debugf(format string, v ...any)  {}
func (l natsLog) Tracef(format string, v ...any)  {}
