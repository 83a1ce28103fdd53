package gateway

import "encoding/json"

// ClientPatch is a partial update of a client (a tenant database) through
// the admin API: the fields that are set change. Setting URI clears
// URIEnvVar and the other way round. Activating a client also clears its
// failure count and disabled reason, which is how an auto-disabled client
// is brought back. The registry validates it; the store writes it.
type ClientPatch struct {
	URI       *string
	URIEnvVar *string
	Active    *bool
	Frozen    *bool
	Metadata  json.RawMessage // nil: unchanged
}
