package api

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"

	"github.com/gin-gonic/gin"
	"gopkg.in/yaml.v3"
)

// openAPIYAML is the contract as OpenAPI 3.1, maintained by hand beside
// routes.go (openapi_test.go keeps the two equal and validates the API
// tests' traffic against it).
//
//go:embed openapi.yaml
var openAPIYAML []byte

// openAPI is the served document in both encodings; json is converted from
// the YAML once, when the server is built.
type openAPI struct {
	yaml []byte
	json []byte
	err  error // why json could not be built (a broken embedded file)
}

func newOpenAPI() openAPI {
	j, err := yamlToJSON(openAPIYAML)
	return openAPI{yaml: openAPIYAML, json: j, err: err}
}

// openAPIYAMLDoc serves GET /openapi.yaml.
func (s *Server) openAPIYAMLDoc(c *gin.Context) error {
	c.Data(200, "application/yaml; charset=utf-8", s.openapi.yaml)
	return nil
}

// openAPIJSONDoc serves GET /openapi.json.
func (s *Server) openAPIJSONDoc(c *gin.Context) error {
	if s.openapi.err != nil {
		return fmt.Errorf("openapi.json: %w", s.openapi.err)
	}
	c.Data(200, "application/json; charset=utf-8", s.openapi.json)
	return nil
}

// yamlToJSON converts a YAML document to JSON keeping the key order (a
// decode into maps would sort it), so the JSON reads like the YAML.
func yamlToJSON(src []byte) ([]byte, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(src, &doc); err != nil {
		return nil, fmt.Errorf("parse YAML: %w", err)
	}
	var buf bytes.Buffer
	if err := writeJSONNode(&buf, &doc, 0); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// maxYAMLDepth bounds alias expansion and nesting.
const maxYAMLDepth = 100

func writeJSONNode(buf *bytes.Buffer, n *yaml.Node, depth int) error {
	if depth > maxYAMLDepth {
		return fmt.Errorf("YAML nested deeper than %d", maxYAMLDepth)
	}
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) != 1 {
			return fmt.Errorf("want one YAML document, got %d nodes", len(n.Content))
		}
		return writeJSONNode(buf, n.Content[0], depth+1)
	case yaml.AliasNode:
		return writeJSONNode(buf, n.Alias, depth+1)
	case yaml.MappingNode:
		buf.WriteByte('{')
		for i := 0; i+1 < len(n.Content); i += 2 {
			if i > 0 {
				buf.WriteByte(',')
			}
			k, _ := json.Marshal(n.Content[i].Value)
			buf.Write(k)
			buf.WriteByte(':')
			if err := writeJSONNode(buf, n.Content[i+1], depth+1); err != nil {
				return err
			}
		}
		buf.WriteByte('}')
	case yaml.SequenceNode:
		buf.WriteByte('[')
		for i, c := range n.Content {
			if i > 0 {
				buf.WriteByte(',')
			}
			if err := writeJSONNode(buf, c, depth+1); err != nil {
				return err
			}
		}
		buf.WriteByte(']')
	case yaml.ScalarNode:
		return writeJSONScalar(buf, n)
	default:
		return fmt.Errorf("line %d: unsupported YAML node kind %d", n.Line, n.Kind)
	}
	return nil
}

// writeJSONScalar writes a scalar by its resolved YAML tag: numbers,
// booleans and null stay typed, everything else is a string.
func writeJSONScalar(buf *bytes.Buffer, n *yaml.Node) error {
	switch n.ShortTag() {
	case "!!null":
		buf.WriteString("null")
		return nil
	case "!!bool", "!!int", "!!float":
		var v any
		if err := n.Decode(&v); err != nil {
			return fmt.Errorf("line %d: %w", n.Line, err)
		}
		b, err := json.Marshal(v)
		if err != nil { // NaN and infinities have no JSON form
			return fmt.Errorf("line %d: %q has no JSON form", n.Line, n.Value)
		}
		buf.Write(b)
		return nil
	}
	b, _ := json.Marshal(n.Value) // strings always marshal
	buf.Write(b)
	return nil
}
