package gateway

// RowBound narrows an update or delete to a window of its matching rows:
// the rows a fetch with the same conditions, Sort, Limit and Offset would
// return. The SDK sends it for `.update(…).order(…).limit(n)`, `.range(a, b)`
// and the same on delete (sort_by, limit, offset, page_size, current_page).
// The zero value bounds nothing.
type RowBound struct {
	Sort   []Sort
	Limit  *int64
	Offset *int64
}

// Bounded reports whether the bound narrows the rows.
func (b RowBound) Bounded() bool { return b.Limit != nil || b.Offset != nil }

// mutationBound decodes the fields that bound an update or delete. The rule
// (spec §3.4): a field that narrows the rows is honoured or refused, never
// ignored, because ignoring it changes rows the caller meant to leave alone.
//
// Decisions:
//   - limit and offset as in a fetch; page_size (with current_page, pages
//     counting from 1) is the SDK's other spelling of the same window, and
//     explicit limit/offset win over it. current_page with limit but no
//     page_size pages by limit, as the SDK's own SQL compiler does;
//     current_page alone is refused: it names a page of unknown size.
//   - unlike a fetch, no default limit is ever applied: a missing limit
//     means every matching row, as the caller asked.
//   - sort_by (and its spellings) without limit or offset is refused: the
//     order cannot change which rows are written, so the caller must have
//     meant a bound that did not arrive (older SDKs drop `.limit()` on
//     update and send only sort_by). Refusing beats rewriting every row.
//   - total_pages is accepted and has no effect: it does not narrow rows.
func mutationBound(p payload) (RowBound, error) {
	var b RowBound
	var err error
	if b.Limit, err = p.nonNegInt("limit"); err != nil {
		return RowBound{}, err
	}
	if b.Offset, err = p.nonNegInt("offset"); err != nil {
		return RowBound{}, err
	}
	size, err := p.nonNegInt("page_size", "pageSize")
	if err != nil {
		return RowBound{}, err
	}
	page, err := p.nonNegInt("current_page", "currentPage", "page")
	if err != nil {
		return RowBound{}, err
	}
	if _, err := p.nonNegInt("total_pages", "totalPages"); err != nil {
		return RowBound{}, err
	}
	if size != nil && *size == 0 {
		return RowBound{}, Errorf(p.code, "field \"page_size\" must be at least 1")
	}
	if page != nil {
		if *page == 0 {
			return RowBound{}, Errorf(p.code, "field \"current_page\" must be at least 1 (pages count from 1)")
		}
		if size == nil && b.Limit == nil {
			return RowBound{}, Errorf(p.code, "current_page needs page_size (or limit): without a page size the page cannot bound the rows")
		}
	}
	if size != nil || page != nil {
		per := size
		if per == nil {
			per = b.Limit
		}
		pg := int64(1)
		if page != nil {
			pg = *page
		}
		if pg-1 > (1<<63-1) / *per {
			return RowBound{}, Errorf(p.code, "current_page %d with page size %d is out of range", pg, *per)
		}
		off := (pg - 1) * *per
		if b.Limit == nil {
			b.Limit = per
		}
		if b.Offset == nil {
			b.Offset = &off
		}
	}
	for _, f := range []string{"sort_by", "sortBy", "orderBy", "order_by"} {
		if _, raw := p.raw(f); raw != nil {
			s, err := sortJSON(raw, p.code, f)
			if err != nil {
				return RowBound{}, err
			}
			b.Sort = append(b.Sort, s...)
		}
	}
	if len(b.Sort) > 0 && !b.Bounded() {
		return RowBound{}, Errorf(p.code, "sort_by without limit or offset is refused: the order cannot choose which rows change, so a bound must be missing; send limit (or range) with it, or drop sort_by")
	}
	return b, nil
}
