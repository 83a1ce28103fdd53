package gateway

import (
	"strconv"
	"testing"
)

// benchFetchBody is athena-bench's fetch by primary key with id.
func benchFetchBody(id int) []byte {
	b := append([]byte(nil), `{"table_name":"athena_bench.items","columns":"id,name,price,tags,created_at","conditions":[{"eq_column":"id","eq_value":`...)
	b = strconv.AppendInt(b, int64(id), 10)
	return append(b, `}],"limit":1}`...)
}

// BenchmarkDecodeFetch decodes athena-bench's fetch body with an id that
// changes per request (so no memo above the decoder can answer it).
func BenchmarkDecodeFetch(b *testing.B) {
	bodies := make([][]byte, 4096)
	for i := range bodies {
		bodies[i] = benchFetchBody(i + 1)
	}
	lim := DefaultLimits()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := DecodeFetch(bodies[i%len(bodies)], nil, lim); err != nil {
			b.Fatal(err)
		}
		i++
	}
}
