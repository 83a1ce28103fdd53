package gateway

import "testing"

func TestCountJSONArray(t *testing.T) {
	tests := []struct {
		give string
		want int64
	}{
		{`[]`, 0}, {"[\n]", 0}, {`[{"a":1}]`, 1}, {`[{"a":"x,y"}, {"b":[1,2]}]`, 2},
		{`[1,2,3]`, 3}, {`["a\"],", "b"]`, 2}, {"[{\"a\":1}, \n {\"a\":2}, \n {\"a\":3}]", 3},
	}
	for _, tt := range tests {
		if got := CountJSONArray([]byte(tt.give)); got != tt.want {
			t.Errorf("CountJSONArray(%s): got %d, want %d", tt.give, got, tt.want)
		}
	}
}
