package gateway

import (
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"
)

// validate checks the post-processing settings a client sent.
func (pp *PostProcessing) validate() error {
	if !ValidIdentifier(pp.GroupBy) {
		return Errorf(CodeInvalidFetchPayload, "invalid group_by column name %q", clip(pp.GroupBy))
	}
	switch pp.TimeGranularity {
	case "", "day", "hour", "minute":
	default:
		return Errorf(CodeInvalidFetchPayload, "unknown time_granularity %q: expected day, hour or minute", clip(pp.TimeGranularity))
	}
	if pp.AggregationColumn != "" && !ValidIdentifier(pp.AggregationColumn) {
		return Errorf(CodeInvalidFetchPayload, "invalid aggregation_column name %q", clip(pp.AggregationColumn))
	}
	switch pp.AggregationStrategy {
	case "", "sum", "cumulative_sum":
	default:
		return Errorf(CodeInvalidFetchPayload, "unknown aggregation_strategy %q: expected sum or cumulative_sum", clip(pp.AggregationStrategy))
	}
	return nil
}

// PostProcess groups fetched rows by p.GroupBy (spec §3.2).
//
// A group's label is the GroupBy value as text ("" for null or missing);
// with TimeGranularity the value is read as a timestamp (RFC 3339 or
// PostgreSQL text output, zone-less values taken as UTC) and truncated in
// UTC to "2006-01-02" (day), "2006-01-02T15:00" (hour) or "2006-01-02T15:04"
// (minute). Groups are sorted by label ascending, which for these labels is
// chronological, so cumulative sums run forward in time. Rows keep their
// fetched order inside a group.
//
// With AggregationColumn, each group's Aggregation is the sum of that
// column's numeric values (json.Number, floats, integers or numeric
// strings; nulls skipped); "cumulative_sum" makes it the running total over
// the groups in label order. AggregationDedup counts rows with identical
// JSON content once in the aggregation (rows are still all listed).
// Without AggregationColumn, Aggregation is nil.
func PostProcess(rows []map[string]any, p PostProcessing) ([]Group, error) {
	p.TimeGranularity = strings.ToLower(strings.TrimSpace(p.TimeGranularity))
	p.AggregationStrategy = strings.ToLower(strings.TrimSpace(p.AggregationStrategy))
	if p.AggregationColumn != "" && p.AggregationStrategy == "" {
		p.AggregationStrategy = "sum"
	}
	if err := p.validate(); err != nil {
		return nil, err
	}
	index := map[string]int{}
	groups := []Group{}
	for i, row := range rows {
		label, err := groupLabel(row[p.GroupBy], p.TimeGranularity)
		if err != nil {
			return nil, Errorf(CodeInvalidFetchPayload, "row %d: group_by column %q: %s", i+1, p.GroupBy, err.Error())
		}
		gi, ok := index[label]
		if !ok {
			gi = len(groups)
			index[label] = gi
			groups = append(groups, Group{Label: label, Rows: []map[string]any{}})
		}
		groups[gi].Rows = append(groups[gi].Rows, row)
	}
	sort.SliceStable(groups, func(i, j int) bool { return groups[i].Label < groups[j].Label })

	if p.AggregationColumn == "" {
		return groups, nil
	}
	running := 0.0
	for gi := range groups {
		sum := 0.0
		seen := map[string]bool{}
		for ri, row := range groups[gi].Rows {
			if p.AggregationDedup {
				key, err := json.Marshal(row)
				if err == nil {
					if seen[string(key)] {
						continue
					}
					seen[string(key)] = true
				}
			}
			v, ok, err := numeric(row[p.AggregationColumn])
			if err != nil {
				return nil, Errorf(CodeInvalidFetchPayload, "group %q row %d: aggregation_column %q: %s", clip(groups[gi].Label), ri+1, p.AggregationColumn, err.Error())
			}
			if ok {
				sum += v
			}
		}
		if p.AggregationStrategy == "cumulative_sum" {
			running += sum
			sum = running
		}
		agg := sum
		groups[gi].Aggregation = &agg
	}
	return groups, nil
}

// groupLabel renders a grouping value as its label.
func groupLabel(v any, granularity string) (string, error) {
	if v == nil {
		return "", nil
	}
	if granularity == "" {
		return valueText(v), nil
	}
	t, err := asTime(v)
	if err != nil {
		return "", err
	}
	t = t.UTC()
	switch granularity {
	case "day":
		return t.Format("2006-01-02"), nil
	case "hour":
		return t.Format("2006-01-02T15:00"), nil
	default:
		return t.Format("2006-01-02T15:04"), nil
	}
}

// valueText is the plain text form of a row value.
func valueText(v any) string {
	switch t := v.(type) {
	case string:
		return t
	case json.Number:
		return t.String()
	case float64:
		return strconv.FormatFloat(t, 'f', -1, 64)
	case float32:
		return strconv.FormatFloat(float64(t), 'f', -1, 32)
	case bool:
		return strconv.FormatBool(t)
	case time.Time:
		return t.UTC().Format(time.RFC3339Nano)
	case fmt.Stringer:
		return t.String()
	case int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64:
		return fmt.Sprint(t)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// timeLayouts are the timestamp spellings accepted for time grouping:
// RFC 3339 (JSON APIs) and PostgreSQL's text output for timestamp and
// timestamptz ("2024-05-01 12:30:00.123+02").
var timeLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05.999999999Z07",
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02 15:04:05.999999999Z07",
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04:05.999999999",
	"2006-01-02T15:04",
	"2006-01-02 15:04",
	"2006-01-02",
}

// asTime reads a timestamp value; zone-less text is UTC.
func asTime(v any) (time.Time, error) {
	switch t := v.(type) {
	case time.Time:
		return t, nil
	case string:
		s := strings.TrimSpace(t)
		for _, layout := range timeLayouts {
			if ts, err := time.Parse(layout, s); err == nil {
				return ts, nil
			}
		}
		return time.Time{}, fmt.Errorf("value %q is not a timestamp", clip(s))
	}
	return time.Time{}, fmt.Errorf("value %s is not a timestamp", jsonShort(v))
}

// numeric reads a number for aggregation; ok is false for null.
func numeric(v any) (float64, bool, error) {
	var f float64
	switch t := v.(type) {
	case nil:
		return 0, false, nil
	case json.Number:
		x, err := strconv.ParseFloat(t.String(), 64)
		if err != nil {
			return 0, false, fmt.Errorf("value %s is not numeric", clip(t.String()))
		}
		f = x
	case float64:
		f = t
	case float32:
		f = float64(t)
	case int:
		f = float64(t)
	case int32:
		f = float64(t)
	case int64:
		f = float64(t)
	case string:
		x, err := strconv.ParseFloat(strings.TrimSpace(t), 64)
		if err != nil {
			return 0, false, fmt.Errorf("value %q is not numeric", clip(t))
		}
		f = x
	default:
		return 0, false, fmt.Errorf("value %s is not numeric", jsonShort(v))
	}
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, false, fmt.Errorf("value %v is not a finite number", f)
	}
	return f, true, nil
}
