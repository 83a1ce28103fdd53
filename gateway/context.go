package gateway

import "context"

// RequestInfo is who is asking and for what: set once by the HTTP layer
// and read by every layer below (logs, audit rows, insert jobs) through the
// request's context.
type RequestInfo struct {
	RequestID      string
	Client         string // resolved client name ("" for direct-URI requests)
	KeyID          string // public id of the API key used ("" when none, "admin" for the admin key)
	UserID         string // X-User-Id
	OrganizationID string // X-Organization-Id
	CompanyID      string // X-Company-Id
	SDK            string // X-Athena-Sdk
	BackendType    string // X-Backend-Type

	// What the request turned out to be, filled in as the HTTP layer learns
	// it, for the request/operation logs and statistics.
	Table        string // the table or view the operation targeted, as named
	ErrorCode    string // the error envelope's code, when the answer was an error
	ErrorMessage string // the error envelope's message
}

type requestInfoKey struct{}

// WithRequestInfo returns ctx carrying info. The pointer is shared, so later
// layers may fill in fields (the client, the key) as they learn them.
func WithRequestInfo(ctx context.Context, info *RequestInfo) context.Context {
	return context.WithValue(ctx, requestInfoKey{}, info)
}

// RequestInfoFrom returns the request's info, or nil outside a request.
func RequestInfoFrom(ctx context.Context) *RequestInfo {
	info, _ := ctx.Value(requestInfoKey{}).(*RequestInfo)
	return info
}
