package api

import (
	"github.com/gin-gonic/gin"

	"github.com/athena-gateway/athena/auth"
	"github.com/athena-gateway/athena/gateway"
)

// queryMeta is the meta object of a raw query answer (spec §3.6).
type queryMeta struct {
	ReturnedRowCount int   `json:"returned_row_count"`
	RowsAffected     int64 `json:"rows_affected"`
	StatementCount   int   `json:"statement_count"`
}

// query serves POST /gateway/query, /gateway/sql and /query/sql.
func (s *Server) query(c *gin.Context) error {
	res, p, req, err := decoded(s, c, func(body []byte) (gateway.QueryRequest, error) {
		return gateway.DecodeQuery(body)
	})
	if err != nil {
		return err
	}
	if err := s.authorize(p, auth.RightQuery); err != nil {
		return err
	}
	out, err := res.DB.Query(c.Request.Context(), req)
	// Raw SQL can touch any table, so a write invalidates the whole scope.
	// A failed query is treated as a possible write too: its text may have
	// committed part of its work (an explicit COMMIT before the failing
	// statement), and failures are rare enough that the lost entries are
	// cheap.
	if err != nil || out.Writes {
		s.invalidateScope(c.Request.Context(), res)
	}
	if err != nil {
		return err
	}
	rows := out.Rows
	if rows == nil {
		rows = []map[string]any{}
	}
	// rows_affected is top level as well as in meta: the SDK reads the
	// affected count of a raw write from the top level only
	// (src/result/mutation-meta.ts), meta is what older clients read.
	newSuccess("Query executed").
		value("data", rows).
		value("rows_affected", out.RowsAffected).
		value("meta", queryMeta{ReturnedRowCount: len(rows), RowsAffected: out.RowsAffected, StatementCount: out.StatementCount}).
		send(c, 200)
	return nil
}
