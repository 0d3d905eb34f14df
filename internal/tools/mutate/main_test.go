package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []Mutation
		err  bool
	}{
		{"comments and blanks", "# a comment\n\n   \n", nil, false},
		{"one line", "ua/ua.go ||| a := 1 ||| a := 2 ||| -race ./ua/ -run TestX|TestY ||| a is two\n",
			[]Mutation{{Line: 1, File: "ua/ua.go", From: "a := 1", To: "a := 2", Args: []string{"-race", "./ua/", "-run", "TestX|TestY"}, Description: "a is two"}}, false},
		{"escapes", `f.go ||| x\n\ty ||| z\\w ||| ./p/ ||| d`,
			[]Mutation{{Line: 1, File: "f.go", From: "x\n\ty", To: `z\w`, Args: []string{"./p/"}, Description: "d"}}, false},
		{"four fields", "f.go ||| a ||| b ||| ./p/\n", nil, true},
		{"empty fragment", "f.go |||  ||| b ||| ./p/ ||| d\n", nil, true},
		{"no change", "f.go ||| a ||| a ||| ./p/ ||| d\n", nil, true},
		{"bad escape", `f.go ||| a\q ||| b ||| ./p/ ||| d`, nil, true},
		{"trailing backslash", `f.go ||| a ||| b\ ||| ./p/ ||| d`, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(strings.NewReader(tt.in))
			if tt.err {
				require.ErrorIs(t, err, errSyntax)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}

func TestApply(t *testing.T) {
	src := []byte("one\ntwo\ntwo\nthree\n")
	got, err := Apply(src, Mutation{File: "f", From: "one\n", To: "1\n"})
	require.NoError(t, err)
	require.Equal(t, "1\ntwo\ntwo\nthree\n", string(got))
	require.Equal(t, "one\ntwo\ntwo\nthree\n", string(src), "the source is left alone")
	_, err = Apply(src, Mutation{File: "f", From: "two", To: "2"})
	require.ErrorContains(t, err, "2 times")
	_, err = Apply(src, Mutation{File: "f", From: "four", To: "4"})
	require.ErrorContains(t, err, "0 times")
}

func TestBaselines(t *testing.T) {
	ms := []Mutation{
		{Args: []string{"-race", "./ua/", "-run", "TestA|TestB"}},
		{Args: []string{"-race", "./ua/", "-run=TestC"}},
		{Args: []string{"-race", "./ua/", "-run", "TestA|TestB"}},
		{Args: []string{"./sip/"}},
		{Args: []string{"./sip/", "-run", "TestX"}},
	}
	require.Equal(t, [][]string{
		{"-race", "./ua/", "-run", "TestA|TestB|TestC"},
		{"./sip/"},
	}, baselines(ms))
}

func TestLocate(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "p"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "p", "a.go"), []byte("x := 1\ny := 2\n"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "p", "b.go"), []byte("y := 2\nz := 3\n"), 0o644))
	path, data, err := locate(dir, Mutation{File: "p/*.go", From: "z := 3"})
	require.NoError(t, err)
	require.Equal(t, filepath.Join(dir, "p", "b.go"), path)
	require.Equal(t, "y := 2\nz := 3\n", string(data))
	_, _, err = locate(dir, Mutation{File: "p/*.go", From: "y := 2"})
	require.ErrorContains(t, err, "2 times")
	_, _, err = locate(dir, Mutation{File: "p/a.go", From: "z := 3"})
	require.ErrorContains(t, err, "0 times")
}
