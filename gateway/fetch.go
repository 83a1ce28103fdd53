package gateway

import (
	"strings"
)

// DecodeFetch decodes a fetch body (spec §3.2). stripNullsHeader is the
// X-Strip-Nulls header when sent; the body's strip_nulls wins over it and
// neither means false.
//
// Decisions callers rely on:
//   - `select` wins over `columns`; neither is Star (see selectionJSON for
//     the object form).
//   - `conditions` and `where` are ANDed, conditions first.
//   - explicit limit/offset win over current_page/page_size; page_size
//     alone means page 1; current_page without page_size is ignored.
//   - with lim.MaxLimit set, a larger limit is refused and a missing limit
//     becomes MaxLimit.
//   - sort_by/sortBy terms come before orderBy terms.
//   - Post is nil unless group_by is sent.
func DecodeFetch(body []byte, stripNullsHeader *bool, lim Limits) (FetchRequest, error) {
	return decodeStrict(body, CodeInvalidFetchPayload, func(p payload) (FetchRequest, error) {
		return fetchFrom(p, stripNullsHeader, lim)
	})
}

// fetchFrom reads the fields of a fetch body.
func fetchFrom(p payload, stripNullsHeader *bool, lim Limits) (FetchRequest, error) {
	lim = lim.withDefaults()
	const code = CodeInvalidFetchPayload
	var err error
	var req FetchRequest
	// The SDK echoes .totalPages(); pages follow from page_size here.
	p.accept("total_pages")

	tableField := "table_name"
	if !p.has("table_name") && p.has("view_name") {
		tableField = "view_name"
	}
	if req.Table, err = p.table(tableField); err != nil {
		return FetchRequest{}, err
	}

	if req.Selection, err = fetchSelection(p); err != nil {
		return FetchRequest{}, err
	}
	if req.Conditions, err = conditionsOf(p, lim); err != nil {
		return FetchRequest{}, err
	}
	if req.Limit, req.Offset, err = paging(p, lim); err != nil {
		return FetchRequest{}, err
	}
	for _, f := range []string{"sort_by", "sortBy", "orderBy", "order_by"} {
		if _, raw := p.raw(f); raw != nil {
			s, err := sortJSON(raw, code, f)
			if err != nil {
				return FetchRequest{}, err
			}
			req.Sort = append(req.Sort, s...)
		}
	}

	if b, present, err := p.boolean("strip_nulls"); err != nil {
		return FetchRequest{}, err
	} else if present {
		req.StripNulls = b
	} else if stripNullsHeader != nil {
		req.StripNulls = *stripNullsHeader
	}
	if req.Count, err = p.count(); err != nil {
		return FetchRequest{}, err
	}
	if req.Head, _, err = p.boolean("head"); err != nil {
		return FetchRequest{}, err
	}
	if req.Post, err = postProcessing(p); err != nil {
		return FetchRequest{}, err
	}
	return req, nil
}

// fetchSelection reads `select`, else `columns`, else Star.
func fetchSelection(p payload) (Selection, error) {
	_, raw := p.raw("select", "columns")
	return selectionJSON(raw, p.code, 0)
}

// returning reads a RETURNING projection from `columns` (plain columns).
func returning(p payload) (Selection, error) {
	_, raw := p.raw("columns", "returning")
	sel, err := selectionJSON(raw, p.code, 0)
	if err != nil {
		return Selection{}, err
	}
	return plainSelection(sel, p.code, "columns")
}

// conditionsOf parses `conditions` and `where` with one shared budget.
func conditionsOf(p payload, lim Limits) ([]Condition, error) {
	cp := newCondParser(lim)
	var out []Condition
	if _, raw := p.raw("conditions"); raw != nil {
		v, err := decodeJSON(raw)
		if err != nil {
			return nil, err
		}
		cs, err := cp.list(v, 0)
		if err != nil {
			return nil, err
		}
		out = append(out, cs...)
	}
	if _, raw := p.raw("where"); raw != nil {
		cs, err := cp.where(raw, 0)
		if err != nil {
			return nil, err
		}
		out = append(out, cs...)
	}
	return out, nil
}

// paging resolves limit/offset and current_page/page_size.
func paging(p payload, lim Limits) (limit, offset *int64, err error) {
	if limit, err = p.nonNegInt("limit"); err != nil {
		return nil, nil, err
	}
	if offset, err = p.nonNegInt("offset"); err != nil {
		return nil, nil, err
	}
	size, err := p.nonNegInt("page_size", "pageSize")
	if err != nil {
		return nil, nil, err
	}
	page, err := p.nonNegInt("current_page", "currentPage", "page")
	if err != nil {
		return nil, nil, err
	}
	if size != nil {
		if *size == 0 {
			return nil, nil, Errorf(p.code, "field \"page_size\" must be at least 1")
		}
		pg := int64(1)
		if page != nil {
			if *page == 0 {
				return nil, nil, Errorf(p.code, "field \"current_page\" must be at least 1 (pages count from 1)")
			}
			pg = *page
		}
		if pg-1 > (1<<63-1) / *size {
			return nil, nil, Errorf(p.code, "current_page %d with page_size %d is out of range", pg, *size)
		}
		off := (pg - 1) * *size
		if limit == nil {
			limit = size
		}
		if offset == nil {
			offset = &off
		}
	}
	if lim.MaxLimit > 0 {
		if limit == nil {
			m := lim.MaxLimit
			limit = &m
		} else if *limit > lim.MaxLimit {
			return nil, nil, Errorf(p.code, "limit %d exceeds the maximum of %d", *limit, lim.MaxLimit)
		}
	}
	return limit, offset, nil
}

// postProcessing reads the group_by family; nil without group_by.
func postProcessing(p payload) (*PostProcessing, error) {
	// The aggregation fields mean nothing without group_by; they are still
	// fields a fetch knows.
	p.accept("time_granularity", "aggregation_column", "aggregation_strategy", "aggregation_dedup")
	groupBy, err := p.str("group_by")
	if err != nil {
		return nil, err
	}
	groupBy = strings.TrimSpace(groupBy)
	if groupBy == "" {
		return nil, nil
	}
	pp := &PostProcessing{GroupBy: groupBy}
	if pp.TimeGranularity, err = p.str("time_granularity"); err != nil {
		return nil, err
	}
	if pp.AggregationColumn, err = p.str("aggregation_column"); err != nil {
		return nil, err
	}
	if pp.AggregationStrategy, err = p.str("aggregation_strategy"); err != nil {
		return nil, err
	}
	if pp.AggregationDedup, _, err = p.boolean("aggregation_dedup"); err != nil {
		return nil, err
	}
	pp.TimeGranularity = strings.ToLower(strings.TrimSpace(pp.TimeGranularity))
	pp.AggregationColumn = strings.TrimSpace(pp.AggregationColumn)
	pp.AggregationStrategy = strings.ToLower(strings.TrimSpace(pp.AggregationStrategy))
	if pp.AggregationColumn != "" && pp.AggregationStrategy == "" {
		pp.AggregationStrategy = "sum"
	}
	if err := pp.validate(); err != nil {
		return nil, err
	}
	return pp, nil
}
