package projections

import (
	"log/slog"

	"github.com/ThreeDotsLabs/watermill"
)

// wmLogger adapts slog to watermill. The router logs every message at
// trace level and its own lifecycle at info; a projection's errors are
// what an operator needs, so trace is dropped and info becomes debug
// (watermill's own slog adapter formats every trace record, which costs
// more than applying the event).
type wmLogger struct {
	l      *slog.Logger
	fields watermill.LogFields
}

func (w wmLogger) log(level slog.Level, msg string, err error, fields watermill.LogFields) {
	args := make([]any, 0, 2*(len(w.fields)+len(fields))+2)
	for k, v := range w.fields {
		args = append(args, k, v)
	}
	for k, v := range fields {
		args = append(args, k, v)
	}
	if err != nil {
		args = append(args, "err", err)
	}
	if level == slog.LevelError {
		w.l.Error(msg, args...)
	} else {
		w.l.Debug(msg, args...)
	}
}

func (w wmLogger) Error(msg string, err error, fields watermill.LogFields) {
	w.log(slog.LevelError, msg, err, fields)
}
func (w wmLogger) Info(msg string, fields watermill.LogFields) {
	w.log(slog.LevelDebug, msg, nil, fields)
}
func (w wmLogger) Debug(msg string, fields watermill.LogFields) {
	w.log(slog.LevelDebug, msg, nil, fields)
}
func (w wmLogger) Trace(string, watermill.LogFields) {}
func (w wmLogger) With(fields watermill.LogFields) watermill.LoggerAdapter {
	return wmLogger{l: w.l, fields: w.fields.Add(fields)}
}
