package activities

import (
	"context"
	"time"

	"go.temporal.io/sdk/activity"
)

// PingInput is the input of the Ping activity.
type PingInput struct {
	Message string `json:"message"`
}

// PingResult identifies the worker that answered.
type PingResult struct {
	Message   string    `json:"message"`
	Identity  string    `json:"identity"`
	TaskQueue string    `json:"task_queue"`
	Time      time.Time `json:"time"`
}

// Ping answers with the worker's identity, the task queue it was polled
// from and the worker's clock.
func (a *Activities) Ping(ctx context.Context, in PingInput) (PingResult, error) {
	info := activity.GetInfo(ctx)
	return PingResult{
		Message:   in.Message,
		Identity:  a.Identity,
		TaskQueue: info.TaskQueue,
		Time:      a.now().UTC(),
	}, nil
}
