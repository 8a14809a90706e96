package main

import (
	"bytes"
	"flag"
	"fmt"
	"go/format"
	"os"
)

func main() {
	files := flag.String("files", "", "package-level *protoregistry.Files variable")
	types := flag.String("types", "", "package-level *protoregistry.Types variable")
	flag.Parse()
	if *files == "" || *types == "" || flag.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "usage: protolocal -files VAR -types VAR FILE.pb.go...")
		os.Exit(2)
	}
	for _, path := range flag.Args() {
		if err := rewrite(path, *files, *types); err != nil {
			fmt.Fprintln(os.Stderr, "protolocal:", err)
			os.Exit(1)
		}
	}
}

func rewrite(path, files, types string) error {
	src, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	edits := []struct{ anchor, insert string }{
		{"File: protoimpl.DescBuilder{\n", "FileRegistry: " + files + ",\n"},
		{"out := protoimpl.TypeBuilder{\n", "TypeRegistry: " + types + ",\n"},
	}
	for _, e := range edits {
		if bytes.Count(src, []byte(e.anchor)) != 1 {
			return fmt.Errorf("%s: expected exactly one %q (protoc-gen-go output changed?)", path, e.anchor)
		}
		src = bytes.Replace(src, []byte(e.anchor), []byte(e.anchor+e.insert), 1)
	}
	out, err := format.Source(src)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return os.WriteFile(path, out, 0o644)
}
