package main

// A PodMonitor manifest, checked by the Prometheus Operator's own API types
// (github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1): decoded with unknown
// fields refused, as the API server's structural schema would prune and the Operator would never
// see them; then each endpoint's relabelings as the Prometheus scrape config the Operator writes
// from them, validated by Prometheus's own model/relabel.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/relabel"
	yamlv2 "go.yaml.in/yaml/v2"
	"sigs.k8s.io/yaml"
)

type podMonitorEndpoint struct {
	Port              string `json:"port,omitempty"`
	Path              string `json:"path,omitempty"`
	Interval          string `json:"interval,omitempty"`
	HonorLabels       bool   `json:"honorLabels"`
	Relabelings       int    `json:"relabelings"`
	MetricRelabelings int    `json:"metricRelabelings"`
}

type podMonitorAnswer struct {
	File      string               `json:"file"`
	Errors    []string             `json:"errors"`
	Name      string               `json:"name,omitempty"`
	JobLabel  string               `json:"jobLabel,omitempty"`
	Endpoints []podMonitorEndpoint `json:"endpoints"`
}

// relabelConfig is one of the Operator's relabelings as Prometheus reads it: the Operator copies
// the fields it was given into the scrape config and Prometheus fills in its defaults.
func relabelConfig(r monitoringv1.RelabelConfig) (relabel.Config, error) {
	plain := map[string]any{}
	if len(r.SourceLabels) > 0 {
		names := make([]string, len(r.SourceLabels))
		for i, n := range r.SourceLabels {
			names[i] = string(n)
		}
		plain["source_labels"] = names
	}
	if r.Separator != nil {
		plain["separator"] = *r.Separator
	}
	if r.TargetLabel != "" {
		plain["target_label"] = r.TargetLabel
	}
	if r.Regex != "" {
		plain["regex"] = r.Regex
	}
	if r.Modulus != 0 {
		plain["modulus"] = r.Modulus
	}
	if r.Replacement != nil {
		plain["replacement"] = *r.Replacement
	}
	if r.Action != "" {
		plain["action"] = r.Action
	}
	var c relabel.Config
	raw, err := yamlv2.Marshal(plain)
	if err != nil {
		return c, err
	}
	if err := yamlv2.UnmarshalStrict(raw, &c); err != nil {
		return c, err
	}
	return c, c.Validate(model.UTF8Validation)
}

func checkPodMonitor(file string) podMonitorAnswer {
	a := podMonitorAnswer{File: file, Errors: []string{}, Endpoints: []podMonitorEndpoint{}}
	raw, err := os.ReadFile(file)
	if err != nil {
		a.Errors = append(a.Errors, err.Error())
		return a
	}
	asJSON, err := yaml.YAMLToJSON(raw)
	if err != nil {
		a.Errors = append(a.Errors, "manifest: "+err.Error())
		return a
	}
	var pm monitoringv1.PodMonitor
	dec := json.NewDecoder(bytes.NewReader(asJSON))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&pm); err != nil {
		a.Errors = append(a.Errors, "manifest: "+err.Error())
		return a
	}
	if pm.APIVersion != "monitoring.coreos.com/v1" || pm.Kind != "PodMonitor" {
		a.Errors = append(a.Errors, fmt.Sprintf("manifest: %s %s is not a monitoring.coreos.com/v1 PodMonitor", pm.APIVersion, pm.Kind))
	}
	a.Name, a.JobLabel = pm.Name, pm.Spec.JobLabel
	if len(pm.Spec.PodMetricsEndpoints) == 0 {
		a.Errors = append(a.Errors, "spec: no podMetricsEndpoints: Prometheus would scrape nothing")
	}
	for i, e := range pm.Spec.PodMetricsEndpoints {
		ea := podMonitorEndpoint{Relabelings: len(e.RelabelConfigs), MetricRelabelings: len(e.MetricRelabelConfigs)}
		if e.Port != nil {
			ea.Port = *e.Port
		}
		ea.Path, ea.Interval, ea.HonorLabels = e.Path, string(e.Interval), e.HonorLabels
		if e.Interval != "" {
			if _, err := model.ParseDuration(string(e.Interval)); err != nil {
				a.Errors = append(a.Errors, fmt.Sprintf("spec.podMetricsEndpoints[%d].interval: %v", i, err))
			}
		}
		for j, r := range e.RelabelConfigs {
			if _, err := relabelConfig(r); err != nil {
				a.Errors = append(a.Errors, fmt.Sprintf("spec.podMetricsEndpoints[%d].relabelings[%d]: %v", i, j, err))
			}
		}
		for j, r := range e.MetricRelabelConfigs {
			if _, err := relabelConfig(r); err != nil {
				a.Errors = append(a.Errors, fmt.Sprintf("spec.podMetricsEndpoints[%d].metricRelabelings[%d]: %v", i, j, err))
			}
		}
		a.Endpoints = append(a.Endpoints, ea)
	}
	return a
}
