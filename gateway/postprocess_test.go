package gateway

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"
)

func f64(f float64) *float64 { return &f }

func TestPostProcess(t *testing.T) {
	rows := []map[string]any{
		{"day": "2024-05-02T10:15:00Z", "kind": "b", "amount": json.Number("2")},
		{"day": "2024-05-01 23:59:59+00", "kind": "a", "amount": json.Number("1.5")},
		{"day": "2024-05-02 01:00:00-02", "kind": "a", "amount": "3"},
		{"day": "2024-05-01T08:00:00", "kind": "a", "amount": nil},
		{"day": "2024-05-01T08:00:00", "kind": "a", "amount": nil},
	}
	tests := []struct {
		name string
		p    PostProcessing
		want []Group
	}{
		{"plain label, no aggregation", PostProcessing{GroupBy: "kind"}, []Group{
			{Label: "a", Rows: []map[string]any{rows[1], rows[2], rows[3], rows[4]}},
			{Label: "b", Rows: []map[string]any{rows[0]}},
		}},
		{"day sum", PostProcessing{GroupBy: "day", TimeGranularity: "day", AggregationColumn: "amount", AggregationStrategy: "sum"}, []Group{
			{Label: "2024-05-01", Rows: []map[string]any{rows[1], rows[3], rows[4]}, Aggregation: f64(1.5)},
			{Label: "2024-05-02", Rows: []map[string]any{rows[0], rows[2]}, Aggregation: f64(5)},
		}},
		{"cumulative", PostProcessing{GroupBy: "day", TimeGranularity: "day", AggregationColumn: "amount", AggregationStrategy: "cumulative_sum"}, []Group{
			{Label: "2024-05-01", Rows: []map[string]any{rows[1], rows[3], rows[4]}, Aggregation: f64(1.5)},
			{Label: "2024-05-02", Rows: []map[string]any{rows[0], rows[2]}, Aggregation: f64(6.5)},
		}},
		{"hour", PostProcessing{GroupBy: "day", TimeGranularity: "hour"}, []Group{
			{Label: "2024-05-01T08:00", Rows: []map[string]any{rows[3], rows[4]}},
			{Label: "2024-05-01T23:00", Rows: []map[string]any{rows[1]}},
			{Label: "2024-05-02T03:00", Rows: []map[string]any{rows[2]}},
			{Label: "2024-05-02T10:00", Rows: []map[string]any{rows[0]}},
		}},
		{"minute", PostProcessing{GroupBy: "day", TimeGranularity: "minute", AggregationColumn: "amount"}, []Group{
			{Label: "2024-05-01T08:00", Rows: []map[string]any{rows[3], rows[4]}, Aggregation: f64(0)},
			{Label: "2024-05-01T23:59", Rows: []map[string]any{rows[1]}, Aggregation: f64(1.5)},
			{Label: "2024-05-02T03:00", Rows: []map[string]any{rows[2]}, Aggregation: f64(3)},
			{Label: "2024-05-02T10:15", Rows: []map[string]any{rows[0]}, Aggregation: f64(2)},
		}},
	}
	for _, tt := range tests {
		got, err := PostProcess(rows, tt.p)
		if err != nil {
			t.Errorf("%s: got error %v", tt.name, err)
			continue
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: got %+v, want %+v", tt.name, got, tt.want)
		}
	}
}

func TestPostProcessDedupAndTypes(t *testing.T) {
	rows := []map[string]any{
		{"g": json.Number("1"), "v": 2.0},
		{"g": json.Number("1"), "v": 2.0},
		{"g": json.Number("1"), "v": json.Number("3"), "other": true},
		{"g": nil, "v": int64(4)},
		{"v": 1},
	}
	got, err := PostProcess(rows, PostProcessing{GroupBy: "g", AggregationColumn: "v", AggregationDedup: true})
	if err != nil {
		t.Fatal(err)
	}
	want := []Group{
		{Label: "", Rows: []map[string]any{rows[3], rows[4]}, Aggregation: f64(5)},
		{Label: "1", Rows: []map[string]any{rows[0], rows[1], rows[2]}, Aggregation: f64(5)},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v, want %+v", got, want)
	}

	ts := time.Date(2024, 1, 2, 3, 4, 5, 0, time.FixedZone("x", 3600))
	got, err = PostProcess([]map[string]any{{"t": ts}}, PostProcessing{GroupBy: "t", TimeGranularity: "hour"})
	if err != nil {
		t.Fatal(err)
	}
	if got[0].Label != "2024-01-02T02:00" {
		t.Fatalf("got %q, want %q", got[0].Label, "2024-01-02T02:00")
	}

	got, err = PostProcess(nil, PostProcessing{GroupBy: "g"})
	if err != nil || got == nil || len(got) != 0 {
		t.Fatalf("got %v, %v, want empty non-nil groups", got, err)
	}
}

func TestPostProcessErrors(t *testing.T) {
	rows := []map[string]any{{"g": "x", "v": "abc"}}
	tests := []struct {
		p    PostProcessing
		want string
	}{
		{PostProcessing{GroupBy: "g", AggregationColumn: "v", AggregationStrategy: "avg"}, `unknown aggregation_strategy "avg"`},
		{PostProcessing{GroupBy: "g", TimeGranularity: "week"}, `unknown time_granularity "week"`},
		{PostProcessing{GroupBy: ""}, `invalid group_by`},
		{PostProcessing{GroupBy: "g", TimeGranularity: "day"}, `value "x" is not a timestamp`},
		{PostProcessing{GroupBy: "g", AggregationColumn: "v"}, `value "abc" is not numeric`},
	}
	for _, tt := range tests {
		_, err := PostProcess(rows, tt.p)
		checkErr(t, err, CodeInvalidFetchPayload, tt.want)
	}
}
