package api

import (
	"bytes"
	"encoding/json"
	"testing"
)

func TestWriteStringIsJSON(t *testing.T) {
	for _, give := range []string{"", "Fetched 3 rows", `quote " and \ back`, "tab\tnew\nline", "ünïcødé", "<script>", "\x00\x1f"} {
		var buf bytes.Buffer
		writeString(&buf, give)
		var got string
		if err := json.Unmarshal(buf.Bytes(), &got); err != nil || got != give {
			t.Errorf("writeString(%q) = %s: got %q, %v", give, buf.Bytes(), got, err)
		}
	}
}
