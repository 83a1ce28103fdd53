// Package devstack runs the pieces `athena dev` needs on a laptop without any
// setup: a project-local PostgreSQL cluster created with the system's own
// initdb and pg_ctl (installed from the distribution's packages when missing),
// and a small demo schema to try the gateway against.
//
// It is deliberately free of fx and of the gateway's own packages so that the
// dev command, tests and tools can all use it directly.
package devstack
