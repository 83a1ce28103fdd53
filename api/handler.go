package api

import (
	"errors"

	"github.com/gin-gonic/gin"
)

// handlerFunc serves one route. It writes the success answer itself and
// returns any failure; the route's adapter (Server.handle) turns it into
// the error envelope. Middleware steps (admin check, authentication,
// rights) are plain functions returning errors that handlers call first.
type handlerFunc func(c *gin.Context) error

// handle adapts h to gin: a returned error is written as the envelope of
// operation op (data.operation), unless a step marked it as its own (see
// stepError).
func (s *Server) handle(op string, h handlerFunc) gin.HandlerFunc {
	return func(c *gin.Context) {
		if err := h(c); err != nil && !errors.Is(err, errAnswered) {
			s.writeError(c, op, err)
		}
	}
}

// stepError is a failure of a step shared by many routes, reported under
// the step's name instead of the route's operation: "auth" for API keys and
// rights, "admin" for the admin check.
type stepError struct {
	step string
	err  error
}

func (e *stepError) Error() string { return e.err.Error() }
func (e *stepError) Unwrap() error { return e.err }

// inStep marks err (nil stays nil) as a failure of step.
func inStep(step string, err error) error {
	if err == nil {
		return nil
	}
	return &stepError{step: step, err: err}
}

// writeError writes err as the envelope of op, or of the step that failed.
func (s *Server) writeError(c *gin.Context, op string, err error) {
	var se *stepError
	if errors.As(err, &se) {
		op, err = se.step, se.err
	}
	writeError(c, s.log, op, err)
}
