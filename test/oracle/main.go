// Command knative-oracle answers, one JSON line per JSON line, what Knative Eventing's own Go code
// decides: its webhook's defaulting and validation of a Trigger or Broker, its broker-filter's
// verdict for a Trigger and an event, its retry arithmetic for a delivery spec, and what its
// dispatcher sends a dead-letter sink. The differential tests (test/cluster/knative-oracle.test.ts)
// put the same questions to the development broker. Built by test/cluster/build.sh (build_oracle),
// which copies the ConfigMaps Knative installs (features, config-br-defaults) beside this file.
//
// Requests:  {"id":1,"op":"validate","kind":"Trigger"|"Broker","object":{...}}
//
//	{"id":2,"op":"filter","trigger":{spec},"event":{structured CloudEvent},"hop":"binary"|"none"}
//	{"id":3,"op":"delivery","delivery":{DeliverySpec},"attempts":n,"statuses":[404,...]}
//	{"id":4,"op":"dispatch","event":{...},"delivery":{...},"responses":[{"status":503,"body":"..."}]}
//
// Every answer carries the request's id; a request that cannot be answered gets {"id","error"}.
// @see docs/testing.md
package main

import (
	"bufio"
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"math"
	nethttp "net/http"
	"net/http/httptest"
	"os"
	"sync"
	"sync/atomic"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/cloudevents/sdk-go/v2/binding"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"
	"go.uber.org/zap"
	authv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	"knative.dev/pkg/apis"
	duckv1 "knative.dev/pkg/apis/duck/v1"
	webhookjson "knative.dev/pkg/webhook/json"
	"sigs.k8s.io/yaml"

	"knative.dev/eventing/pkg/apis/config"
	eventingduckv1 "knative.dev/eventing/pkg/apis/duck/v1"
	eventingv1 "knative.dev/eventing/pkg/apis/eventing/v1"
	"knative.dev/eventing/pkg/apis/feature"
	"knative.dev/eventing/pkg/eventfilter"
	"knative.dev/eventing/pkg/eventfilter/attributes"
	"knative.dev/eventing/pkg/eventfilter/subscriptionsapi"
	"knative.dev/eventing/pkg/eventingtls"
	"knative.dev/eventing/pkg/kncloudevents"
)

// The ConfigMaps a fresh install creates (config/core/configmaps/*.yaml of the pinned module),
// copied here by build.sh: the webhook's context carries what they say.
//
//go:embed config/features.yaml
var featuresYAML []byte

//go:embed config/default-broker.yaml
var brokerDefaultsYAML []byte

type request struct {
	ID        json.RawMessage   `json:"id"`
	Op        string            `json:"op"`
	Kind      string            `json:"kind"`
	Object    json.RawMessage   `json:"object"`
	Trigger   json.RawMessage   `json:"trigger"`
	Event     json.RawMessage   `json:"event"`
	Hop       string            `json:"hop"`
	Delivery  json.RawMessage   `json:"delivery"`
	Attempts  int               `json:"attempts"`
	Statuses  []int             `json:"statuses"`
	Responses []scriptedReply   `json:"responses"`
	Headers   map[string]string `json:"headers"`
}

type scriptedReply struct {
	Status  int               `json:"status"`
	Body    string            `json:"body"`
	Headers map[string]string `json:"headers"`
}

type fieldError struct {
	Paths   []string `json:"paths"`
	Message string   `json:"message"`
	Details string   `json:"details,omitempty"`
}

var logger = zap.NewNop()

func main() {
	// The dispatcher names broker-filter's host through system.Namespace(), which needs this.
	if os.Getenv("SYSTEM_NAMESPACE") == "" {
		_ = os.Setenv("SYSTEM_NAMESPACE", "knative-eventing")
	}
	webhookCtx, err := webhookContext()
	if err != nil {
		fmt.Fprintf(os.Stderr, "knative-oracle: %v\n", err)
		os.Exit(1)
	}
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 64<<20)
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	enc := json.NewEncoder(out)
	enc.SetEscapeHTML(false)
	for in.Scan() {
		var req request
		var answer map[string]any
		if err := json.Unmarshal(in.Bytes(), &req); err != nil {
			answer = map[string]any{"error": "not a request: " + err.Error()}
		} else {
			answer = answerOf(webhookCtx, &req)
		}
		answer["id"] = req.ID
		_ = enc.Encode(answer)
		_ = out.Flush()
	}
}

// answerOf never lets a panic in Knative's code end the process: it is an answer too.
func answerOf(webhookCtx context.Context, req *request) (answer map[string]any) {
	defer func() {
		if r := recover(); r != nil {
			answer = map[string]any{"panic": fmt.Sprint(r)}
		}
	}()
	switch req.Op {
	case "validate":
		return validate(webhookCtx, req)
	case "filter":
		return filter(req)
	case "delivery":
		return delivery(req)
	case "dispatch":
		return dispatch(req)
	}
	return map[string]any{"error": "unknown op " + req.Op}
}

// webhookContext is what eventing's webhook (cmd/webhook/main.go) hands SetDefaults and Validate:
// the feature flags and config-br-defaults stores, loaded from the ConfigMaps an install ships.
func webhookContext() (context.Context, error) {
	var features, defaults corev1.ConfigMap
	if err := yaml.Unmarshal(featuresYAML, &features); err != nil {
		return nil, fmt.Errorf("features.yaml: %w", err)
	}
	if err := yaml.Unmarshal(brokerDefaultsYAML, &defaults); err != nil {
		return nil, fmt.Errorf("default-broker.yaml: %w", err)
	}
	flags, err := feature.NewFlagsConfigFromConfigMap(&features)
	if err != nil {
		return nil, fmt.Errorf("features: %w", err)
	}
	d, err := config.NewDefaultsConfigFromConfigMap(&defaults)
	if err != nil {
		return nil, fmt.Errorf("config-br-defaults: %w", err)
	}
	ctx := config.ToContext(context.Background(), &config.Config{Defaults: d})
	return feature.ToContext(ctx, flags), nil
}

type crd interface {
	apis.Defaultable
	apis.Validatable
}

// validate: the defaulting webhook then the validating webhook on a create, as knative.dev/pkg's
// admission controllers run them (json.Decode with unknown fields disallowed, apis.WithinCreate,
// apis.WithUserInfo).
func validate(webhookCtx context.Context, req *request) map[string]any {
	var obj crd
	switch req.Kind {
	case "Trigger":
		obj = &eventingv1.Trigger{}
	case "Broker":
		obj = &eventingv1.Broker{}
	default:
		return map[string]any{"error": "kind must be Trigger or Broker"}
	}
	if err := webhookjson.Decode(req.Object, obj, true); err != nil {
		return map[string]any{"ok": false, "decode": true, "errors": []fieldError{{Paths: []string{}, Message: err.Error()}}}
	}
	ctx := apis.WithUserInfo(apis.WithinCreate(webhookCtx), &authv1.UserInfo{Username: "reflex-oracle"})
	obj.SetDefaults(ctx)
	defaulted, _ := json.Marshal(obj)
	errs := []fieldError{}
	if fe := obj.Validate(ctx); fe != nil {
		if e := fe.Filter(apis.ErrorLevel); e != nil {
			for _, w := range e.WrappedErrors() {
				errs = append(errs, fieldError{Paths: w.Paths, Message: w.Message, Details: w.Details})
			}
		}
	}
	return map[string]any{"ok": len(errs) == 0, "errors": errs, "defaulted": json.RawMessage(defaulted)}
}

// filter: the Trigger's filter as broker-filter builds it (pkg/broker/filter/filter_handler.go,
// filterEvent: `filters` when non-empty, else `filter.attributes`, else none), on the event as
// broker-filter receives it. With hop "binary" (the default) the event first crosses HTTP in
// binary mode, as it does from the ingress through the channel to broker-filter
// (cehttp.NewEventFromHTTPRequest), so extensions arrive as strings and the time in UTC.
func filter(req *request) map[string]any {
	var spec eventingv1.TriggerSpec
	if err := json.Unmarshal(req.Trigger, &spec); err != nil {
		return map[string]any{"error": "trigger spec: " + err.Error()}
	}
	event := cloudevents.NewEvent()
	if err := json.Unmarshal(req.Event, &event); err != nil {
		return map[string]any{"eventError": err.Error()}
	}
	if err := event.Validate(); err != nil {
		return map[string]any{"eventError": err.Error()}
	}
	if req.Hop != "none" {
		hopped, err := binaryHop(event)
		if err != nil {
			return map[string]any{"eventError": "binary hop: " + err.Error()}
		}
		event = hopped
	}
	var f eventfilter.Filter
	switch {
	case len(spec.Filters) > 0:
		f = subscriptionsapi.CreateSubscriptionsAPIFilters(logger, spec.Filters)
	case spec.Filter != nil:
		f = attributes.NewAttributesFilter(spec.Filter.Attributes)
	}
	result := eventfilter.NoFilter
	answer := map[string]any{}
	if f != nil {
		result = f.Filter(context.Background(), event)
		// broker-filter calls Cleanup when the Trigger is updated or deleted (FiltersMap.Set/Delete):
		// a panic there is a fault of its own, apart from the verdict.
		func() {
			defer func() {
				if r := recover(); r != nil {
					answer["cleanupPanic"] = fmt.Sprint(r)
				}
			}()
			f.Cleanup()
		}()
	}
	answer["pass"] = result != eventfilter.FailFilter
	answer["result"] = result.String()
	return answer
}

func binaryHop(event cloudevents.Event) (cloudevents.Event, error) {
	req, err := nethttp.NewRequest(nethttp.MethodPost, "http://broker-filter.knative-eventing.svc.cluster.local/", nil)
	if err != nil {
		return event, err
	}
	ctx := binding.WithForceBinary(context.Background())
	if err := cehttp.WriteRequest(ctx, binding.ToMessage(&event), req); err != nil {
		return event, err
	}
	got, err := cehttp.NewEventFromHTTPRequest(req)
	if err != nil {
		return event, err
	}
	return *got, nil
}

// delivery: kncloudevents.RetryConfigFromDeliverySpec and SelectiveRetry. Backoff(i) is the wait
// before retry i+1: go-retryablehttp passes a 0-based attempt number.
func delivery(req *request) map[string]any {
	var spec eventingduckv1.DeliverySpec
	if len(req.Delivery) > 0 {
		if err := json.Unmarshal(req.Delivery, &spec); err != nil {
			return map[string]any{"error": "delivery: " + err.Error()}
		}
	}
	rc, err := kncloudevents.RetryConfigFromDeliverySpec(spec)
	if err != nil {
		return map[string]any{"configError": err.Error()}
	}
	backoff := []float64{}
	for i := 0; i < req.Attempts && i < rc.RetryMax; i++ {
		backoff = append(backoff, float64(rc.Backoff(i, nil))/float64(time.Millisecond))
	}
	retry := map[string]bool{}
	for _, s := range req.Statuses {
		ok, _ := rc.CheckRetry(context.Background(), &nethttp.Response{StatusCode: s}, nil)
		retry[fmt.Sprint(s)] = ok
	}
	return map[string]any{
		"retryMax":  rc.RetryMax,
		"backoffMs": backoff,
		"timeoutMs": float64(rc.RequestTimeout) / float64(time.Millisecond),
		"retry":     retry,
	}
}

// dispatch: kncloudevents.Dispatcher.SendEvent to a subscriber that answers the scripted
// responses in turn (the last one repeats), with the delivery's retries and a dead-letter sink
// that records what it is sent. Waits are real: keep backoffDelay small.
func dispatch(req *request) map[string]any {
	var spec eventingduckv1.DeliverySpec
	if len(req.Delivery) > 0 {
		if err := json.Unmarshal(req.Delivery, &spec); err != nil {
			return map[string]any{"error": "delivery: " + err.Error()}
		}
	}
	event := cloudevents.NewEvent()
	if err := json.Unmarshal(req.Event, &event); err != nil {
		return map[string]any{"eventError": err.Error()}
	}
	if len(req.Responses) == 0 {
		return map[string]any{"error": "responses: at least one"}
	}
	var attempts atomic.Int32
	subscriber := httptest.NewServer(nethttp.HandlerFunc(func(w nethttp.ResponseWriter, r *nethttp.Request) {
		n := int(attempts.Add(1)) - 1
		reply := req.Responses[int(math.Min(float64(n), float64(len(req.Responses)-1)))]
		for k, v := range reply.Headers {
			w.Header().Set(k, v)
		}
		w.WriteHeader(reply.Status)
		_, _ = w.Write([]byte(reply.Body))
	}))
	defer subscriber.Close()
	var mu sync.Mutex
	var dead []map[string]any
	dls := httptest.NewServer(nethttp.HandlerFunc(func(w nethttp.ResponseWriter, r *nethttp.Request) {
		e, err := cehttp.NewEventFromHTTPRequest(r)
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			dead = append(dead, map[string]any{"error": err.Error()})
		} else {
			ext := map[string]any{}
			for k, v := range e.Extensions() {
				ext[k] = fmt.Sprint(v)
			}
			dead = append(dead, map[string]any{"id": e.ID(), "extensions": ext, "headers": r.Header})
		}
		w.WriteHeader(nethttp.StatusAccepted)
	}))
	defer dls.Close()
	rc, err := kncloudevents.RetryConfigFromDeliverySpec(spec)
	if err != nil {
		return map[string]any{"configError": err.Error()}
	}
	d := kncloudevents.NewDispatcher(eventingtls.ClientConfig{}, nil)
	sub, _ := apis.ParseURL(subscriber.URL + "/subscriber")
	dl, _ := apis.ParseURL(dls.URL + "/dls")
	info, sendErr := d.SendEvent(context.Background(), event, duckv1.Addressable{URL: sub},
		kncloudevents.WithRetryConfig(&rc), kncloudevents.WithDeadLetterSink(&duckv1.Addressable{URL: dl}))
	answer := map[string]any{"attempts": attempts.Load(), "deadLetters": dead, "subscriber": sub.String()}
	if info != nil {
		answer["status"] = info.ResponseCode
	}
	if sendErr != nil {
		answer["sendError"] = sendErr.Error()
	}
	return answer
}
