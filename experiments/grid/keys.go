package grid

import (
	"fmt"
	"reflect"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

var typeOfConfig = reflect.TypeFor[Config]()

// checkKeys walks a YAML node against the Go type it will be decoded into and reports the first
// key that the type does not have, by its dotted path, with the keys that are allowed. On the
// way it records which key path each line holds, so that later type errors (which yaml.v3
// reports by line) can name their key.
func checkKeys(node *yaml.Node, t reflect.Type, path string, lines map[int]string) *Error {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if node.Kind == yaml.AliasNode {
		node = node.Alias
	}
	switch {
	case t.Kind() == reflect.Struct && node.Kind == yaml.MappingNode:
		fields := yamlFields(t)
		for i := 0; i+1 < len(node.Content); i += 2 {
			k, v := node.Content[i], node.Content[i+1]
			key := join(path, k.Value)
			lines[k.Line] = key
			lines[v.Line] = key
			f, ok := fields[k.Value]
			if !ok {
				return &Error{Key: key, Reason: fmt.Sprintf("line %d: unknown key %q (known here: %s)", k.Line, k.Value, known(fields))}
			}
			if err := checkKeys(v, f.Type, key, lines); err != nil {
				return err
			}
		}
	case t.Kind() == reflect.Slice && node.Kind == yaml.SequenceNode:
		for i, item := range node.Content {
			key := fmt.Sprintf("%s[%d]", path, i)
			lines[item.Line] = key
			if err := checkKeys(item, t.Elem(), key, lines); err != nil {
				return err
			}
		}
	case node.Kind == yaml.ScalarNode && node.Tag != "!!null" && t.Kind() != reflect.Struct && t.Kind() != reflect.Slice && t.Kind() != reflect.Map && t.Kind() != reflect.Interface:
		if reason := scalarMismatch(node, t); reason != "" {
			return &Error{Key: path, Reason: fmt.Sprintf("line %d: %s", node.Line, reason)}
		}
	case t.Kind() == reflect.Struct && node.Kind != yaml.MappingNode && !(node.Kind == yaml.ScalarNode && node.Tag == "!!null"):
		return &Error{Key: path, Reason: fmt.Sprintf("line %d: want a mapping of keys (%s), got %q", node.Line, known(yamlFields(t)), node.Value)}
	case t.Kind() == reflect.Slice && node.Kind != yaml.SequenceNode && !(node.Kind == yaml.ScalarNode && node.Tag == "!!null"):
		return &Error{Key: path, Reason: fmt.Sprintf("line %d: want a list like [a, b, c], got %q", node.Line, node.Value)}
	}
	return nil
}

var typeOfBatch = reflect.TypeFor[Batch]()

// scalarMismatch reports why a scalar cannot be a value of type t ("" if it can). yaml.v3 alone
// would silently truncate 1.5 into an int field and turn 3 into the string "3".
func scalarMismatch(node *yaml.Node, t reflect.Type) string {
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		if t == typeOfBatch && node.Value == "n" {
			return ""
		}
		if node.Tag != "!!int" {
			if t == typeOfBatch {
				return fmt.Sprintf("batch size %q is neither an integer nor \"n\"", node.Value)
			}
			return fmt.Sprintf("%q is not an integer", node.Value)
		}
		if t == typeOfBatch {
			// the full batch is the word n only: an integer below 1 is never a batch size
			var v int
			if err := node.Decode(&v); err == nil && v < 1 {
				return batchOutside(v)
			}
		}
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		if node.Tag != "!!int" || strings.HasPrefix(node.Value, "-") {
			return fmt.Sprintf("%q is not a non-negative integer", node.Value)
		}
	case reflect.Float32, reflect.Float64:
		if node.Tag != "!!int" && node.Tag != "!!float" {
			return fmt.Sprintf("%q is not a number", node.Value)
		}
	case reflect.Bool:
		if node.Tag != "!!bool" {
			return fmt.Sprintf("%q is not true or false", node.Value)
		}
	case reflect.String:
		if node.Tag != "!!str" {
			return fmt.Sprintf("%q is not a string (quote it if you mean the text)", node.Value)
		}
	}
	return ""
}

func yamlFields(t reflect.Type) map[string]reflect.StructField {
	out := map[string]reflect.StructField{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		out[name] = f
	}
	return out
}

func known(fields map[string]reflect.StructField) string {
	names := make([]string, 0, len(fields))
	for n := range fields {
		names = append(names, n)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}
