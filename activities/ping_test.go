package activities

import (
	"testing"
	"time"

	"go.temporal.io/sdk/testsuite"
)

func TestPingAnswersWithIdentity(t *testing.T) {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestActivityEnvironment()
	at := time.Date(2026, 5, 6, 7, 8, 9, 0, time.FixedZone("x", 3600))
	a := &Activities{Identity: "w@host", Now: func() time.Time { return at }}
	env.RegisterActivity(a)

	v, err := env.ExecuteActivity(a.Ping, PingInput{Message: "hi"})
	if err != nil {
		t.Fatal(err)
	}
	var got PingResult
	if err := v.Get(&got); err != nil {
		t.Fatal(err)
	}
	want := PingResult{Message: "hi", Identity: "w@host", TaskQueue: "default-test-taskqueue", Time: at.UTC()}
	if got != want {
		t.Errorf("got %+v, want %+v", got, want)
	}
}
