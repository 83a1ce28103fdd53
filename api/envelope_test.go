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

func TestCountRows(t *testing.T) {
	tests := []struct {
		give string
		want int64
	}{
		{`[]`, 0}, {"[\n]", 0}, {`[{"a":1}]`, 1}, {`[{"a":"x,y"}, {"b":[1,2]}]`, 2},
		{`[1,2,3]`, 3}, {`["a\"],", "b"]`, 2}, {"[{\"a\":1}, \n {\"a\":2}, \n {\"a\":3}]", 3},
	}
	for _, tt := range tests {
		if got := countRows([]byte(tt.give)); got != tt.want {
			t.Errorf("countRows(%s): got %d, want %d", tt.give, got, tt.want)
		}
	}
}
