package telemetry

import (
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"

	"github.com/sluicelog/sluice/stats"
)

// ErrInvalidConfig is wrapped by the errors NewCollector and NewEmitter
// return for a configuration they cannot use.
var ErrInvalidConfig = errors.New("telemetry: invalid configuration")

// ComponentLabel is the label (Prometheus) or tag (envelope) that carries a
// Component's name on every series it reports.
const ComponentLabel = "component"

// Component is a Reporter under a name. The name becomes the value of the
// component label of every series the Reporter reports, so two components
// that both count ingress (an ingress server and the router behind it) make
// two series, each with its own key (component, name, tags).
type Component struct {
	// Name is the component label's value, e.g. "ingress_server" or
	// "router"; unique among the components of one Collector or Emitter.
	Name     string
	Reporter stats.Reporter
}

// Reasons a series is left out of a collection or an emission.
const (
	// ReasonDuplicate: an earlier series had the same name and labels (a
	// Reporter that broke its contract, or two names that sanitize alike).
	ReasonDuplicate = "duplicate"
	// ReasonTypeConflict: an earlier series of the same name had the other
	// Kind.
	ReasonTypeConflict = "type_conflict"
	// ReasonInvalid: a label value Prometheus cannot carry (not UTF-8), or
	// an envelope that cannot be marshaled.
	ReasonInvalid = "invalid"
)

// series is one Metric of one component, with its final labels: the
// component label, the constant labels, then the metric's tags, each name
// mapped by the walk's rename and, when taken already, prefixed with
// "exported_" (Prometheus' own rule for a target label that a scraped
// series already has).
type series struct {
	component string
	metric    stats.Metric
	labels    []stats.Tag // sorted by key
	key       string
}

// walk reads every component's Reporter and hands each series, in order,
// to each; it leaves out and counts (by reason) series whose key was seen
// before in this walk or whose name was seen with the other Kind.
type walk struct {
	components []Component
	constant   []stats.Tag         // sorted by key
	rename     func(string) string // label and metric names
	reserved   map[string]stats.Kind
	logger     *slog.Logger
}

func newWalk(cs []Component, cfg config, rename func(string) string) (*walk, error) {
	names := make(map[string]bool, len(cs))
	for _, c := range cs {
		switch {
		case c.Reporter == nil:
			return nil, fmt.Errorf("%w: component %q has no Reporter", ErrInvalidConfig, c.Name)
		case c.Name == "":
			return nil, fmt.Errorf("%w: a component has no name", ErrInvalidConfig)
		case names[c.Name]:
			return nil, fmt.Errorf("%w: component name %q given twice", ErrInvalidConfig, c.Name)
		}
		names[c.Name] = true
	}
	w := &walk{components: slices.Clone(cs), rename: rename, logger: cfg.logger}
	constant := cfg.labels
	for _, k := range slices.Sorted(maps.Keys(constant)) {
		if rename(k) == rename(ComponentLabel) {
			return nil, fmt.Errorf("%w: label %q is the component label", ErrInvalidConfig, k)
		}
		w.constant = append(w.constant, stats.Tag{Key: k, Value: constant[k]})
	}
	return w, nil
}

// run calls each for every series not left out, and returns the counts of
// series left out by reason (nil when none was); each may leave a series out
// too, with a reason. Every series left out is logged.
func (w *walk) run(each func(series) (keep bool, reason string)) stats.Drops {
	var dropped stats.Drops
	drop := func(s series, reason string) {
		if dropped == nil {
			dropped = stats.Drops{}
		}
		dropped[reason]++
		w.logger.Warn("telemetry: series left out", "reason", reason, "component", s.component, "metric", s.metric.Name)
	}
	seen := map[string]bool{}
	kinds := maps.Clone(w.reserved)
	if kinds == nil {
		kinds = map[string]stats.Kind{}
	}
	for _, c := range w.components {
		c.Reporter.Report(func(m stats.Metric) {
			s := w.series(c.Name, m)
			if k, ok := kinds[s.metric.Name]; ok && k != m.Kind {
				drop(s, ReasonTypeConflict)
				return
			}
			if seen[s.key] {
				drop(s, ReasonDuplicate)
				return
			}
			if keep, reason := each(s); !keep {
				drop(s, reason)
				return
			}
			kinds[s.metric.Name] = m.Kind
			seen[s.key] = true
		})
	}
	return dropped
}

func (w *walk) series(component string, m stats.Metric) series {
	m.Name = w.rename(m.Name)
	labels := make([]stats.Tag, 0, 1+len(w.constant)+len(m.Tags))
	taken := make(map[string]bool, cap(labels))
	add := func(k, v string) {
		k = w.rename(k)
		for taken[k] {
			k = "exported_" + k
		}
		taken[k] = true
		labels = append(labels, stats.Tag{Key: k, Value: v})
	}
	add(ComponentLabel, component)
	for _, t := range w.constant {
		add(t.Key, t.Value)
	}
	for _, t := range m.Tags {
		add(t.Key, t.Value)
	}
	sortTags(labels)
	return series{component: component, metric: m, labels: labels, key: joinKey(m.Name, labels)}
}

func sortTags(tags []stats.Tag) {
	slices.SortFunc(tags, func(a, b stats.Tag) int { return strings.Compare(a.Key, b.Key) })
}

// joinKey identifies a series by its name and its tags, sorted by key.
func joinKey(name string, sorted []stats.Tag) string {
	var b strings.Builder
	b.WriteString(name)
	for _, t := range sorted {
		b.WriteByte(0)
		b.WriteString(t.Key)
		b.WriteByte('=')
		b.WriteString(t.Value)
	}
	return b.String()
}

// promName maps s onto Prometheus' legacy name rule [a-zA-Z_][a-zA-Z0-9_]*,
// which every label name and metric name meets: any other byte becomes
// '_' (':' too: colons are for recording rules), a leading digit gets a
// '_' before it, and a leading "__" (reserved for Prometheus' own labels)
// loses its extra underscores.
func promName(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'):
			b.WriteByte(c)
		case c >= '0' && c <= '9':
			if i == 0 {
				b.WriteByte('_')
			}
			b.WriteByte(c)
		default:
			b.WriteByte('_')
		}
	}
	out := b.String()
	for strings.HasPrefix(out, "__") {
		out = out[1:]
	}
	if out == "" {
		return "_"
	}
	return out
}

func identity(s string) string { return s }
