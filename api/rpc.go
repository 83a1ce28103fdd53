package api

import (
	"bytes"
	"encoding/json"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/athena-gateway/athena/auth"
	"github.com/athena-gateway/athena/gateway"
)

// rpc serves POST /gateway/rpc (spec §3.7).
func (s *Server) rpc(c *gin.Context) error {
	res, p, req, err := decoded(s, c, func(body []byte) (gateway.RPCRequest, error) {
		return gateway.DecodeRPC(body, s.opts.Limits)
	})
	if err != nil {
		return err
	}
	if err := s.authorize(p, auth.RightRPC); err != nil {
		return err
	}
	return s.callRPC(c, res, req)
}

// rpcPath serves GET|POST /rpc/{function}: arguments and filters come from
// the query string; a POST body, when present, is an object of arguments.
func (s *Server) rpcPath(c *gin.Context) error {
	res, p, err := s.begin(c)
	if err != nil {
		return err
	}
	req, err := gateway.RPCFromQuery(c.Param("function"), c.Request.URL.Query(), s.opts.Limits)
	if err != nil {
		return err
	}
	if c.Request.Method == "POST" {
		body, err := s.readBody(c)
		if err != nil {
			return err
		}
		if len(bytes.TrimSpace(body)) > 0 {
			args, err := decodeArgs(body)
			if err != nil {
				return err
			}
			if req.Args == nil {
				req.Args = map[string]any{}
			}
			for k, v := range args {
				if !gateway.ValidIdentifier(k) {
					return gateway.Errorf(gateway.CodeInvalidRPCPayload, "invalid argument name %q", k)
				}
				req.Args[k] = v
			}
		}
	}
	if err := s.authorize(p, auth.RightRPC); err != nil {
		return err
	}
	return s.callRPC(c, res, req)
}

func decodeArgs(body []byte) (map[string]any, error) {
	var args map[string]any
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&args); err != nil || args == nil {
		return nil, gateway.Errorf(gateway.CodeInvalidJSON, "request body must be a JSON object of named arguments")
	}
	return args, nil
}

// callRPC runs the function and answers unenveloped: {"data":[…],"count":N}.
// X-Strip-Nulls drops null fields from the rows, as on the table routes.
//
// A database function may write any table, so a successful call advances
// the client's whole read-cache generation before the answer is written.
func (s *Server) callRPC(c *gin.Context, target Resolution, req gateway.RPCRequest) error {
	if h := stripNullsHeader(c); h != nil {
		req.StripNulls = *h
	}
	res, err := target.DB.RPC(c.Request.Context(), req)
	if err != nil {
		return err
	}
	s.invalidateScope(c.Request.Context(), target)
	count := gateway.CountJSONArray(res.Rows)
	if res.Count != nil {
		count = *res.Count
	}
	buf := bufPool.Get().(*bytes.Buffer)
	buf.Reset()
	defer bufPool.Put(buf)
	buf.WriteString(`{"data":`)
	buf.Write(res.Rows)
	buf.WriteString(`,"count":`)
	buf.WriteString(strconv.FormatInt(count, 10))
	buf.WriteByte('}')
	c.Data(200, "application/json; charset=utf-8", buf.Bytes())
	return nil
}
