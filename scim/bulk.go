package scim

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

type bulkOperation struct {
	Method  string          `json:"method"`
	BulkID  string          `json:"bulkId"`
	Version string          `json:"version"`
	Path    string          `json:"path"`
	Data    json.RawMessage `json:"data"`
}

type bulkResult struct {
	done     bool
	status   int
	location string
	version  string
	id       string
	response []byte // SCIM error body of a failed operation
}

const bulkRefPrefix = "bulkId:"

// bulk answers POST /Bulk (RFC 7644 §3.7). Operations run one at a time
// through the same code as single requests. An operation that refers to
// another's bulkId ("bulkId:x" in its path or anywhere in its data, such
// as a new group's members) runs after it, with the reference replaced by
// the created id; operations caught in a reference cycle fail with 409.
// Results are listed in request order; after failOnErrors failures the
// remaining operations are not run and not listed.
func (h *handler) bulk(w http.ResponseWriter, r *http.Request, tenant string) {
	b, err := readBody(w, r, h.limits.BulkMaxPayloadBytes)
	if err != nil {
		var ae *apiError
		if errors.As(err, &ae) && ae.status == http.StatusRequestEntityTooLarge {
			err = newError(http.StatusRequestEntityTooLarge, "", "the bulk request is larger than maxPayloadSize (%d bytes)", h.limits.BulkMaxPayloadBytes)
		}
		h.writeError(w, r, err)
		return
	}
	body, err := decodeObject(b)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	if s, ok := lookupKey(body, "schemas"); ok {
		if !containsFold(s, uriBulkRequest) {
			h.writeError(w, r, badRequest(typeInvalidSyntax, "schemas must be [%q]", uriBulkRequest))
			return
		}
	}
	var req struct {
		FailOnErrors *int            `json:"failOnErrors"`
		Operations   []bulkOperation `json:"Operations"`
	}
	if err := json.Unmarshal(b, &req); err != nil {
		h.writeError(w, r, badRequest(typeInvalidSyntax, "the bulk request is malformed"))
		return
	}
	if len(req.Operations) > h.limits.BulkMaxOperations {
		h.writeError(w, r, newError(http.StatusRequestEntityTooLarge, "", "the bulk request has more than maxOperations (%d) operations", h.limits.BulkMaxOperations))
		return
	}
	if len(req.Operations) == 0 {
		h.writeError(w, r, badRequest(typeInvalidSyntax, "Operations must be a non-empty list"))
		return
	}
	failOnErrors := 0
	if req.FailOnErrors != nil {
		failOnErrors = max(*req.FailOnErrors, 0)
	}

	ops := req.Operations
	results := make([]bulkResult, len(ops))
	byBulkID := map[string]int{}
	deps := make([][]int, len(ops))
	for i, op := range ops {
		if op.BulkID == "" {
			continue
		}
		if _, dup := byBulkID[op.BulkID]; dup {
			results[i] = bulkFailure(badRequest(typeInvalidValue, "bulkId %q is used by more than one operation", op.BulkID))
			continue
		}
		byBulkID[op.BulkID] = i
	}
	for i, op := range ops {
		if results[i].done {
			continue
		}
		for _, ref := range bulkRefs(op) {
			j, ok := byBulkID[ref]
			switch {
			case !ok:
				results[i] = bulkFailure(badRequest(typeInvalidValue, "bulkId %q is not defined in this request", ref))
			case j == i:
				results[i] = bulkFailure(newError(http.StatusConflict, typeInvalidValue, "operation %q refers to itself", ref))
			default:
				deps[i] = append(deps[i], j)
			}
		}
	}

	errorsSeen := 0
	for _, res := range results {
		if res.done {
			errorsSeen++
		}
	}
	ids := map[string]string{}
	stopped := failOnErrors > 0 && errorsSeen >= failOnErrors
	for !stopped {
		i := nextReady(results, deps)
		if i < 0 {
			break
		}
		if failed := failedDep(results, deps[i]); failed >= 0 {
			results[i] = bulkFailure(newError(http.StatusConflict, typeInvalidValue, "operation %q, which this one refers to, failed", ops[failed].BulkID))
		} else {
			results[i] = h.runBulkOp(r, tenant, ops[i], ids)
			if results[i].id != "" && ops[i].BulkID != "" {
				ids[ops[i].BulkID] = results[i].id
			}
		}
		if results[i].status >= 400 {
			errorsSeen++
			stopped = failOnErrors > 0 && errorsSeen >= failOnErrors
		}
	}
	if !stopped {
		// What is left waits on itself through others: a cycle.
		for i := range results {
			if !results[i].done {
				results[i] = bulkFailure(newError(http.StatusConflict, typeInvalidValue, "circular bulkId references"))
			}
		}
	}

	jw := getWriter()
	defer putWriter(jw)
	jw.open('{')
	jw.key("schemas")
	jw.open('[')
	jw.str(uriBulkResponse)
	jw.close(']')
	jw.key("Operations")
	jw.open('[')
	for i, res := range results {
		if !res.done {
			continue
		}
		jw.open('{')
		jw.strField("method", strings.ToUpper(ops[i].Method))
		jw.strField("bulkId", ops[i].BulkID)
		jw.strField("version", res.version)
		jw.strField("location", res.location)
		jw.strField("status", strconv.Itoa(res.status))
		if res.response != nil {
			jw.key("response")
			jw.raw(res.response)
		}
		jw.close('}')
	}
	jw.close(']')
	jw.close('}')
	writeJSON(w, http.StatusOK, jw.b)
}

func containsFold(v any, want string) bool {
	list, _ := v.([]any)
	for _, s := range list {
		if s, ok := s.(string); ok && strings.EqualFold(s, want) {
			return true
		}
	}
	return false
}

func bulkFailure(ae *apiError) bulkResult {
	var jw jsonWriter
	appendErrorBody(&jw, ae)
	return bulkResult{done: true, status: ae.status, response: jw.b}
}

// nextReady returns the first operation not yet run whose references
// have all run, or -1.
func nextReady(results []bulkResult, deps [][]int) int {
	for i := range results {
		if results[i].done {
			continue
		}
		ready := true
		for _, j := range deps[i] {
			if !results[j].done {
				ready = false
				break
			}
		}
		if ready {
			return i
		}
	}
	return -1
}

func failedDep(results []bulkResult, deps []int) int {
	for _, j := range deps {
		if results[j].status >= 400 {
			return j
		}
	}
	return -1
}

// bulkRefs lists the bulkIds an operation refers to.
func bulkRefs(op bulkOperation) []string {
	var refs []string
	if i := strings.Index(op.Path, bulkRefPrefix); i >= 0 {
		rest := op.Path[i+len(bulkRefPrefix):]
		if j := strings.IndexAny(rest, "/?"); j >= 0 {
			rest = rest[:j]
		}
		refs = append(refs, rest)
	}
	if !bytes.Contains(op.Data, []byte(bulkRefPrefix)) {
		return refs
	}
	var v any
	if json.Unmarshal(op.Data, &v) != nil {
		return refs
	}
	walkStrings(v, func(s string) string {
		if strings.HasPrefix(s, bulkRefPrefix) {
			refs = append(refs, s[len(bulkRefPrefix):])
		}
		return s
	})
	return refs
}

// walkStrings calls fn on every string in v, replacing it with the result.
func walkStrings(v any, fn func(string) string) any {
	switch x := v.(type) {
	case string:
		return fn(x)
	case []any:
		for i, e := range x {
			x[i] = walkStrings(e, fn)
		}
	case map[string]any:
		for k, e := range x {
			x[k] = walkStrings(e, fn)
		}
	}
	return v
}

// runBulkOp runs one operation as the request it describes.
func (h *handler) runBulkOp(r *http.Request, tenant string, op bulkOperation, ids map[string]string) bulkResult {
	method := strings.ToUpper(op.Method)
	switch method {
	case http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
	default:
		return bulkFailure(badRequest(typeInvalidValue, "method must be POST, PUT, PATCH or DELETE"))
	}
	resolve := func(s string) string {
		if strings.HasPrefix(s, bulkRefPrefix) {
			return ids[s[len(bulkRefPrefix):]]
		}
		return s
	}
	path := op.Path
	if i := strings.Index(path, bulkRefPrefix); i >= 0 {
		rest := path[i:]
		end := len(rest)
		if j := strings.IndexAny(rest, "/?"); j >= 0 {
			end = j
		}
		path = path[:i] + resolve(rest[:end]) + rest[end:]
	}
	u, err := url.Parse(path)
	if err != nil || !strings.HasPrefix(u.Path, "/") {
		return bulkFailure(badRequest(typeInvalidPath, "path must be a resource path such as /Users"))
	}
	seg := strings.Trim(u.Path, "/")
	seg, _, _ = strings.Cut(seg, "/")
	if !strings.EqualFold(seg, "Users") && !strings.EqualFold(seg, "Groups") {
		return bulkFailure(badRequest(typeInvalidPath, "path must be under /Users or /Groups"))
	}
	data := op.Data
	if bytes.Contains(data, []byte(bulkRefPrefix)) {
		d := json.NewDecoder(bytes.NewReader(data))
		d.UseNumber()
		var v any
		if d.Decode(&v) == nil {
			if nb, err := json.Marshal(walkStrings(v, resolve)); err == nil {
				data = nb
			}
		}
	}
	if method != http.MethodDelete && len(data) == 0 {
		return bulkFailure(badRequest(typeInvalidSyntax, "data is required for %s", method))
	}
	sub, err := http.NewRequestWithContext(r.Context(), method, u.String(), bytes.NewReader(data))
	if err != nil {
		return bulkFailure(badRequest(typeInvalidPath, "path must be a resource path such as /Users"))
	}
	sub.Header.Set("Content-Type", contentType)
	if op.Version != "" {
		sub.Header.Set("If-Match", op.Version)
	}
	rec := &recorder{header: http.Header{}}
	h.route(rec, sub, tenant, u.Path)
	res := bulkResult{done: true, status: rec.status, location: rec.header.Get("Location"), version: rec.header.Get("ETag")}
	if res.status == 0 {
		res.status = http.StatusOK
	}
	if res.status >= 400 {
		res.response = rec.body.Bytes()
		return res
	}
	if method == http.MethodPost && res.location != "" {
		res.id = res.location[strings.LastIndexByte(res.location, '/')+1:]
	}
	if res.location == "" && method != http.MethodDelete {
		if rest := strings.Trim(u.Path, "/"); strings.Contains(rest, "/") {
			res.location = h.baseURL + "/" + rest
		}
	}
	return res
}

// recorder captures the response of an operation run inside /Bulk.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (rc *recorder) Header() http.Header { return rc.header }

func (rc *recorder) WriteHeader(status int) {
	if rc.status == 0 {
		rc.status = status
	}
}

func (rc *recorder) Write(b []byte) (int, error) {
	if rc.status == 0 {
		rc.status = http.StatusOK
	}
	return rc.body.Write(b)
}
