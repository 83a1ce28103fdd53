package telemetry

import (
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics is the process's Prometheus registry and the instruments the
// request path updates. Recording is lock-free counter arithmetic: metrics
// never wait on anything in the request path. Later features (admission,
// insert windows, pipelines) add their own instruments to Registry.
type Metrics struct {
	Registry *prometheus.Registry
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	// series caches the labelled instruments per (route, client, status):
	// resolving label values hashes and locks inside client_golang, which
	// showed in the hot path; a sync.Map read does not lock.
	series sync.Map // requestSeries → *requestInstruments
}

type requestSeries struct {
	route, client string
	status        int
}

type requestInstruments struct {
	count   prometheus.Counter
	latency prometheus.Observer
}

// NewMetrics builds a registry with the Go runtime and process collectors
// and the HTTP request instruments.
func NewMetrics() *Metrics {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m := &Metrics{
		Registry: reg,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "athena_http_requests_total",
			Help: "HTTP requests answered, by route template, client and status code.",
		}, []string{"route", "client", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "athena_http_request_duration_seconds",
			Help:    "HTTP request latency by route template and client.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"route", "client"}),
	}
	reg.MustRegister(m.requests, m.latency)
	return m
}

// ObserveRequest records one answered request. route is the matched route
// template (bounded cardinality), never the raw path.
func (m *Metrics) ObserveRequest(route, client string, status int, d time.Duration) {
	if m == nil {
		return
	}
	k := requestSeries{route, client, status}
	v, ok := m.series.Load(k)
	if !ok {
		v, _ = m.series.LoadOrStore(k, &requestInstruments{
			count:   m.requests.WithLabelValues(route, client, strconv.Itoa(status)),
			latency: m.latency.WithLabelValues(route, client),
		})
	}
	in := v.(*requestInstruments)
	in.count.Inc()
	in.latency.Observe(d.Seconds())
}

// Handler serves the registry in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{Registry: m.Registry})
}

// Sample is one labelled value read when Prometheus scrapes.
type Sample struct {
	Labels []string
	Value  float64
}

// funcCollector reports values computed at scrape time, for state that
// lives elsewhere (pool statistics, cache counters).
type funcCollector struct {
	desc      *prometheus.Desc
	valueType prometheus.ValueType
	read      func() []Sample
}

func (f *funcCollector) Describe(ch chan<- *prometheus.Desc) { ch <- f.desc }

func (f *funcCollector) Collect(ch chan<- prometheus.Metric) {
	for _, s := range f.read() {
		ch <- prometheus.MustNewConstMetric(f.desc, f.valueType, s.Value, s.Labels...)
	}
}

// AddGauges registers a gauge family whose samples read() returns at
// scrape time.
func (m *Metrics) AddGauges(name, help string, labels []string, read func() []Sample) {
	m.Registry.MustRegister(&funcCollector{prometheus.NewDesc(name, help, labels, nil), prometheus.GaugeValue, read})
}

// AddCounters registers a counter family whose (monotonic) samples read()
// returns at scrape time.
func (m *Metrics) AddCounters(name, help string, labels []string, read func() []Sample) {
	m.Registry.MustRegister(&funcCollector{prometheus.NewDesc(name, help, labels, nil), prometheus.CounterValue, read})
}
