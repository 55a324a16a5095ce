package broker

import (
	"context"
	"log/slog"
	"sync/atomic"
)

// auditHandler writes each audit record to the audit log file and, once
// the desk has set one (SetAuditSink), to the desk's store too.
type auditHandler struct {
	file slog.Handler
	sink atomic.Pointer[slog.Handler]
}

func (h *auditHandler) Enabled(context.Context, slog.Level) bool { return true }

func (h *auditHandler) Handle(ctx context.Context, r slog.Record) error {
	err := h.file.Handle(ctx, r)
	if s := h.sink.Load(); s != nil {
		(*s).Handle(ctx, r.Clone())
	}
	return err
}

// The broker logs audit records with their attributes inline only.
func (h *auditHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *auditHandler) WithGroup(string) slog.Handler      { return h }
