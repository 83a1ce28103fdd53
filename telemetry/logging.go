package telemetry

import (
	"context"
	"log/slog"

	"github.com/athena-gateway/athena/gateway"
)

// ContextHandler adds the request's identity (request id, client, key,
// user and organization) to every record logged with a request context, so
// a line can be tied to its request without each call site passing it.
type ContextHandler struct {
	slog.Handler
}

// NewContextHandler wraps h.
func NewContextHandler(h slog.Handler) *ContextHandler {
	return &ContextHandler{Handler: h}
}

// Handle implements slog.Handler.
func (h *ContextHandler) Handle(ctx context.Context, r slog.Record) error {
	if info := gateway.RequestInfoFrom(ctx); info != nil {
		r.AddAttrs(slog.String("request_id", info.RequestID))
		for _, kv := range [...]struct{ k, v string }{
			{"client", info.Client}, {"key_id", info.KeyID}, {"user_id", info.UserID},
			{"organization_id", info.OrganizationID}, {"company_id", info.CompanyID}, {"sdk", info.SDK},
		} {
			if kv.v != "" {
				r.AddAttrs(slog.String(kv.k, kv.v))
			}
		}
	}
	return h.Handler.Handle(ctx, r)
}

// WithAttrs implements slog.Handler, keeping the wrapper.
func (h *ContextHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &ContextHandler{Handler: h.Handler.WithAttrs(attrs)}
}

// WithGroup implements slog.Handler, keeping the wrapper.
func (h *ContextHandler) WithGroup(name string) slog.Handler {
	return &ContextHandler{Handler: h.Handler.WithGroup(name)}
}
