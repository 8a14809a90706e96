package envelope

import "time"

// Batch is the message that BatchSender, Send and BatchedReceiver carry.
type Batch = EnvelopeBatch

// Option sets an optional field of an envelope built by a constructor.
type Option interface {
	apply(*Envelope)
}

type optionFunc func(*Envelope)

func (f optionFunc) apply(e *Envelope) { f(e) }

// WithTimestamp sets the envelope's timestamp. Without it constructors use
// the time of the call.
func WithTimestamp(t time.Time) Option {
	return optionFunc(func(e *Envelope) { e.Timestamp = t.UnixNano() })
}

// WithInstanceID sets the envelope's instance ID (for example an application
// instance index).
func WithInstanceID(id string) Option {
	return optionFunc(func(e *Envelope) { e.InstanceId = id })
}

// WithTag sets one tag; later tags of the same name win.
func WithTag(name, value string) Option {
	return optionFunc(func(e *Envelope) {
		if e.Tags == nil {
			e.Tags = make(map[string]string, 4)
		}
		e.Tags[name] = value
	})
}

// WithTags sets every tag in tags (the map is copied).
func WithTags(tags map[string]string) Option {
	return optionFunc(func(e *Envelope) {
		if len(tags) == 0 {
			return
		}
		if e.Tags == nil {
			e.Tags = make(map[string]string, len(tags))
		}
		for k, v := range tags {
			e.Tags[k] = v
		}
	})
}

// WithLogType sets the stream of a log envelope (Log_OUT or Log_ERR); it is
// ignored by the other kinds.
func WithLogType(t Log_Type) Option {
	return optionFunc(func(e *Envelope) {
		if l := e.GetLog(); l != nil {
			l.Type = t
		}
	})
}

// WithTotal sets a counter's running total; it is ignored by the other kinds.
func WithTotal(total uint64) Option {
	return optionFunc(func(e *Envelope) {
		if c := e.GetCounter(); c != nil {
			c.Total = total
		}
	})
}

func build(sourceID string, opts []Option, e *Envelope) *Envelope {
	e.SourceId = sourceID
	e.Timestamp = time.Now().UnixNano()
	for _, o := range opts {
		o.apply(e)
	}
	return e
}

// NewLog returns a log envelope carrying payload on standard out (use
// WithLogType for standard error).
func NewLog(sourceID string, payload []byte, opts ...Option) *Envelope {
	return build(sourceID, opts, &Envelope{Message: &Envelope_Log{Log: &Log{Payload: payload}}})
}

// NewCounter returns a counter envelope that adds delta to the counter name.
func NewCounter(sourceID, name string, delta uint64, opts ...Option) *Envelope {
	return build(sourceID, opts, &Envelope{Message: &Envelope_Counter{Counter: &Counter{Name: name, Delta: delta}}})
}

// Metric is one named value of a gauge envelope.
type Metric struct {
	Name  string
	Value float64
	Unit  string
}

// NewGauge returns a gauge envelope with the given metrics; a later metric of
// the same name wins.
func NewGauge(sourceID string, metrics []Metric, opts ...Option) *Envelope {
	m := make(map[string]*GaugeValue, len(metrics))
	for _, x := range metrics {
		m[x.Name] = &GaugeValue{Unit: x.Unit, Value: x.Value}
	}
	return build(sourceID, opts, &Envelope{Message: &Envelope_Gauge{Gauge: &Gauge{Metrics: m}}})
}

// NewTimer returns a timer envelope for an operation that ran from start to
// stop.
func NewTimer(sourceID, name string, start, stop time.Time, opts ...Option) *Envelope {
	return build(sourceID, opts, &Envelope{Message: &Envelope_Timer{Timer: &Timer{
		Name: name, Start: start.UnixNano(), Stop: stop.UnixNano(),
	}}})
}

// NewEvent returns an event envelope.
func NewEvent(sourceID, title, body string, opts ...Option) *Envelope {
	return build(sourceID, opts, &Envelope{Message: &Envelope_Event{Event: &Event{Title: title, Body: body}}})
}
