// Command monitoring-oracle answers, as one JSON document, what Prometheus's and Grafana's own Go
// code say of Reflex's monitoring files, so that test/wire/monitoring.test.ts checks them with the
// tools' code rather than with hand-written PromQL checks:
//
//   - a Grafana dashboard: decoded strictly by the Grafana Foundation SDK's dashboard types (unknown
//     fields, wrong types and panel options or field configs that do not fit the panel's plugin are
//     errors), then its Validate(); the panels and their Prometheus targets come back as decoded;
//   - a PrometheusRule manifest: its spec parsed and validated by Prometheus's model/rulefmt with
//     unknown fields refused, as `promtool check rules` and the Prometheus Operator's admission
//     webhook do; the groups come back, and as a plain rule file for promtool and prometheus;
//   - a PodMonitor manifest: decoded strictly by the Prometheus Operator's own API types, its
//     relabelings validated by Prometheus's model/relabel as the scrape config written from them
//     (podmonitor.go);
//   - PromQL expressions: parsed by promql/parser; each answer names the metrics its selectors
//     select (by name, or by an equality matcher on __name__) and flags selectors that select no
//     metric by name.
//
// Request (stdin):  {"dashboards":["path"],"prometheusRules":["path"],"podMonitors":["path"],"exprs":[{"id":"a","expr":"up"}]}
// Answer (stdout):  {"dashboards":[...],"prometheusRules":[...],"podMonitors":[...],"exprs":[...]}
// An unreadable request is the only failure: every finding is data in the answer.
// Built by test/oracle/monitoring/build.sh. @see docs/observability.md
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sort"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/cog/plugins"
	"github.com/grafana/grafana-foundation-sdk/go/cog/variants"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	grafanaprom "github.com/grafana/grafana-foundation-sdk/go/prometheus"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql/parser"
	"go.yaml.in/yaml/v3"
)

type exprRequest struct {
	ID   string `json:"id"`
	Expr string `json:"expr"`
}

type request struct {
	Dashboards      []string      `json:"dashboards"`
	PrometheusRules []string      `json:"prometheusRules"`
	PodMonitors     []string      `json:"podMonitors"`
	Exprs           []exprRequest `json:"exprs"`
}

type exprAnswer struct {
	ID    string `json:"id"`
	Expr  string `json:"expr"`
	Error string `json:"error,omitempty"`
	// The value type the expression evaluates to (vector, scalar, matrix, string).
	Type string `json:"type,omitempty"`
	// Metric names its selectors select, sorted, each once.
	Metrics []string `json:"metrics"`
	// Selectors that name no metric (e.g. {job="x"} or {__name__=~"..."}), as PromQL prints them.
	Unnamed []string `json:"unnamed"`
}

type target struct {
	RefID        string `json:"refId"`
	Expr         string `json:"expr"`
	LegendFormat string `json:"legendFormat,omitempty"`
	Instant      bool   `json:"instant"`
	// "prometheus" when the SDK decoded it as a Prometheus query, else what it was decoded as.
	Kind       string `json:"kind"`
	Datasource string `json:"datasource,omitempty"`
}

type panel struct {
	ID         uint32   `json:"id"`
	Title      string   `json:"title"`
	Type       string   `json:"type"`
	Row        string   `json:"row,omitempty"`
	Datasource string   `json:"datasource,omitempty"`
	Targets    []target `json:"targets"`
}

type variable struct {
	Name       string `json:"name"`
	Type       string `json:"type"`
	Query      any    `json:"query,omitempty"`
	Datasource string `json:"datasource,omitempty"`
}

type dashboardAnswer struct {
	File          string     `json:"file"`
	Errors        []string   `json:"errors"`
	UID           string     `json:"uid,omitempty"`
	Title         string     `json:"title,omitempty"`
	SchemaVersion uint16     `json:"schemaVersion"`
	Variables     []variable `json:"variables"`
	Panels        []panel    `json:"panels"`
}

type ruleAnswer struct {
	Alert       string            `json:"alert,omitempty"`
	Record      string            `json:"record,omitempty"`
	Expr        string            `json:"expr"`
	For         string            `json:"for,omitempty"`
	Labels      map[string]string `json:"labels,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

type groupAnswer struct {
	Name     string       `json:"name"`
	Interval string       `json:"interval,omitempty"`
	Rules    []ruleAnswer `json:"rules"`
}

type prometheusRuleAnswer struct {
	File       string        `json:"file"`
	Errors     []string      `json:"errors"`
	APIVersion string        `json:"apiVersion,omitempty"`
	Kind       string        `json:"kind,omitempty"`
	Name       string        `json:"name,omitempty"`
	Groups     []groupAnswer `json:"groups"`
	// The spec as a plain Prometheus rule file (what the Operator hands Prometheus).
	RuleFile string `json:"ruleFile,omitempty"`
}

type answer struct {
	Dashboards      []dashboardAnswer      `json:"dashboards"`
	PrometheusRules []prometheusRuleAnswer `json:"prometheusRules"`
	PodMonitors     []podMonitorAnswer     `json:"podMonitors"`
	Exprs           []exprAnswer           `json:"exprs"`
}

// promql is configured as a Prometheus server is by default (no experimental functions), so an
// expression that needs a feature flag is reported rather than accepted.
var promql = parser.NewParser(parser.Options{})

func main() {
	var req request
	dec := json.NewDecoder(os.Stdin)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		fmt.Fprintf(os.Stderr, "monitoring-oracle: the request is not JSON of the expected shape: %v\n", err)
		os.Exit(2)
	}
	// The SDK decodes panel options and queries by their plugin only once the plugins are registered.
	plugins.RegisterDefaultPlugins()
	out := answer{Dashboards: []dashboardAnswer{}, PrometheusRules: []prometheusRuleAnswer{}, PodMonitors: []podMonitorAnswer{}, Exprs: []exprAnswer{}}
	for _, f := range req.Dashboards {
		out.Dashboards = append(out.Dashboards, checkDashboard(f))
	}
	for _, f := range req.PrometheusRules {
		out.PrometheusRules = append(out.PrometheusRules, checkPrometheusRule(f))
	}
	for _, f := range req.PodMonitors {
		out.PodMonitors = append(out.PodMonitors, checkPodMonitor(f))
	}
	for _, e := range req.Exprs {
		out.Exprs = append(out.Exprs, checkExpr(e))
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(out); err != nil {
		fmt.Fprintf(os.Stderr, "monitoring-oracle: %v\n", err)
		os.Exit(1)
	}
}

func checkExpr(e exprRequest) exprAnswer {
	a := exprAnswer{ID: e.ID, Expr: e.Expr, Metrics: []string{}, Unnamed: []string{}}
	expr, err := promql.ParseExpr(e.Expr)
	if err != nil {
		a.Error = err.Error()
		return a
	}
	a.Type = string(expr.Type())
	a.Metrics, a.Unnamed = selected(expr)
	return a
}

// selected lists the metric names an expression's selectors select, and the selectors that name none.
func selected(expr parser.Expr) ([]string, []string) {
	names := map[string]bool{}
	unnamed := []string{}
	parser.Inspect(expr, func(node parser.Node, _ []parser.Node) error {
		vs, ok := node.(*parser.VectorSelector)
		if !ok {
			return nil
		}
		name := vs.Name
		for _, m := range vs.LabelMatchers {
			if m.Name == labels.MetricName && m.Type == labels.MatchEqual {
				name = m.Value
			}
		}
		if name == "" {
			unnamed = append(unnamed, vs.String())
		} else {
			names[name] = true
		}
		return nil
	})
	sorted := make([]string, 0, len(names))
	for n := range names {
		sorted = append(sorted, n)
	}
	sort.Strings(sorted)
	return sorted, unnamed
}

func datasourceOf(uid, typ *string) string {
	switch {
	case uid != nil && typ != nil:
		return *typ + ":" + *uid
	case uid != nil:
		return *uid
	case typ != nil:
		return *typ + ":"
	}
	return ""
}

// realError: the SDK (v0.0.22) returns its list of errors as an error even when the list is
// empty; only a list with entries, or another error, is one.
func realError(err error) error {
	var list cog.BuildErrors
	if errors.As(err, &list) && len(list) == 0 {
		return nil
	}
	return err
}

// decodePanels decodes each element of a dashboard's panels strictly, as the SDK's Dashboard
// does; it is done here again because the SDK keeps no panel whose decoding returned its
// (empty) list of errors. Errors are left to the Dashboard's own decoding, which reports them.
func decodePanels(raw []byte) []dashboard.PanelOrRowPanel {
	var top struct {
		Panels []json.RawMessage `json:"panels"`
	}
	if json.Unmarshal(raw, &top) != nil {
		return nil
	}
	out := []dashboard.PanelOrRowPanel{}
	for _, p := range top.Panels {
		var kind struct {
			Type string `json:"type"`
		}
		_ = json.Unmarshal(p, &kind)
		if kind.Type == "row" {
			r := dashboard.RowPanel{}
			if realError(r.UnmarshalJSONStrict(p)) == nil {
				out = append(out, dashboard.PanelOrRowPanel{RowPanel: &r})
			}
			continue
		}
		one := dashboard.Panel{}
		if realError(one.UnmarshalJSONStrict(p)) == nil {
			one.Targets = decodeTargets(p)
			out = append(out, dashboard.PanelOrRowPanel{Panel: &one})
		}
	}
	return out
}

// decodeTargets decodes a panel's Prometheus queries strictly (the SDK drops them, as panels);
// a query of another data source is kept as the SDK's UnknownDataquery.
func decodeTargets(rawPanel []byte) []variants.Dataquery {
	var p struct {
		Targets []json.RawMessage `json:"targets"`
	}
	_ = json.Unmarshal(rawPanel, &p)
	out := []variants.Dataquery{}
	for _, t := range p.Targets {
		var ds struct {
			Datasource struct {
				Type string `json:"type"`
			} `json:"datasource"`
		}
		_ = json.Unmarshal(t, &ds)
		if ds.Datasource.Type == "prometheus" {
			q := &grafanaprom.Dataquery{}
			if realError(q.UnmarshalJSONStrict(t)) == nil {
				out = append(out, q)
			}
			continue
		}
		other := variants.UnknownDataquery{}
		_ = json.Unmarshal(t, &other)
		out = append(out, other)
	}
	return out
}

func checkDashboard(file string) dashboardAnswer {
	a := dashboardAnswer{File: file, Errors: []string{}, Variables: []variable{}, Panels: []panel{}}
	raw, err := os.ReadFile(file)
	if err != nil {
		a.Errors = append(a.Errors, err.Error())
		return a
	}
	var d dashboard.Dashboard
	if err := realError(d.UnmarshalJSONStrict(raw)); err != nil {
		a.Errors = append(a.Errors, "strict decoding: "+err.Error())
	}
	d.Panels = decodePanels(raw)
	if err := realError(d.Validate()); err != nil {
		a.Errors = append(a.Errors, "validation: "+err.Error())
	}
	if d.Uid != nil {
		a.UID = *d.Uid
	}
	if d.Title != nil {
		a.Title = *d.Title
	}
	a.SchemaVersion = d.SchemaVersion
	for _, v := range d.Templating.List {
		a.Variables = append(a.Variables, variableOf(v))
	}
	row := ""
	for _, p := range d.Panels {
		switch {
		case p.Panel != nil:
			a.Panels = append(a.Panels, panelOf(*p.Panel, row))
		case p.RowPanel != nil:
			row = ""
			if p.RowPanel.Title != nil {
				row = *p.RowPanel.Title
			}
			// A collapsed row carries its panels; an open one is followed by them.
			for _, inner := range p.RowPanel.Panels {
				a.Panels = append(a.Panels, panelOf(inner, row))
			}
		}
	}
	return a
}

func variableOf(v dashboard.VariableModel) variable {
	vv := variable{Name: v.Name, Type: string(v.Type)}
	if v.Query != nil {
		switch {
		case v.Query.String != nil:
			vv.Query = *v.Query.String
		case v.Query.Map != nil:
			vv.Query = v.Query.Map
		}
	}
	if v.Datasource != nil {
		vv.Datasource = datasourceOf(v.Datasource.Uid, v.Datasource.Type)
	}
	return vv
}

func panelOf(p dashboard.Panel, row string) panel {
	pa := panel{Type: p.Type, Row: row, Targets: []target{}}
	if p.Id != nil {
		pa.ID = *p.Id
	}
	if p.Title != nil {
		pa.Title = *p.Title
	}
	if p.Datasource != nil {
		pa.Datasource = datasourceOf(p.Datasource.Uid, p.Datasource.Type)
	}
	for _, t := range p.Targets {
		q, ok := t.(*grafanaprom.Dataquery)
		if !ok {
			pa.Targets = append(pa.Targets, target{Kind: fmt.Sprintf("%T", t)})
			continue
		}
		ta := target{Kind: "prometheus", Expr: q.Expr}
		if q.RefId != nil {
			ta.RefID = *q.RefId
		}
		if q.LegendFormat != nil {
			ta.LegendFormat = *q.LegendFormat
		}
		if q.Instant != nil {
			ta.Instant = *q.Instant
		}
		if q.Datasource != nil {
			ta.Datasource = datasourceOf(q.Datasource.Uid, q.Datasource.Type)
		}
		pa.Targets = append(pa.Targets, ta)
	}
	return pa
}

// manifest is the part of a Kubernetes object around the spec; anything else there is an error.
type manifest struct {
	APIVersion string    `yaml:"apiVersion"`
	Kind       string    `yaml:"kind"`
	Metadata   yaml.Node `yaml:"metadata"`
	Spec       yaml.Node `yaml:"spec"`
}

func checkPrometheusRule(file string) prometheusRuleAnswer {
	a := prometheusRuleAnswer{File: file, Errors: []string{}, Groups: []groupAnswer{}}
	raw, err := os.ReadFile(file)
	if err != nil {
		a.Errors = append(a.Errors, err.Error())
		return a
	}
	var m manifest
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	if err := dec.Decode(&m); err != nil {
		a.Errors = append(a.Errors, "manifest: "+err.Error())
		return a
	}
	var extra any
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		a.Errors = append(a.Errors, "manifest: one PrometheusRule per file, found a second document")
	}
	a.APIVersion, a.Kind = m.APIVersion, m.Kind
	var meta struct {
		Name string `yaml:"name"`
	}
	_ = m.Metadata.Decode(&meta)
	a.Name = meta.Name
	if m.APIVersion != "monitoring.coreos.com/v1" || m.Kind != "PrometheusRule" {
		a.Errors = append(a.Errors, fmt.Sprintf("manifest: %s %s is not a monitoring.coreos.com/v1 PrometheusRule", m.APIVersion, m.Kind))
	}
	spec, err := yaml.Marshal(&m.Spec)
	if err != nil {
		a.Errors = append(a.Errors, "spec: "+err.Error())
		return a
	}
	// As `promtool check rules` parses a file: unknown fields refused, UTF-8 names allowed.
	groups, errs := rulefmt.Parse(spec, false, model.UTF8Validation, promql, slog.New(slog.DiscardHandler))
	for _, e := range errs {
		a.Errors = append(a.Errors, "spec: "+e.Error())
	}
	if groups == nil {
		return a
	}
	a.RuleFile = string(spec)
	for _, g := range groups.Groups {
		ga := groupAnswer{Name: g.Name, Rules: []ruleAnswer{}}
		if g.Interval != 0 {
			ga.Interval = g.Interval.String()
		}
		for _, r := range g.Rules {
			ra := ruleAnswer{Alert: r.Alert, Record: r.Record, Expr: r.Expr, Labels: r.Labels, Annotations: r.Annotations}
			if r.For != 0 {
				ra.For = r.For.String()
			}
			ga.Rules = append(ga.Rules, ra)
		}
		a.Groups = append(a.Groups, ga)
	}
	return a
}
