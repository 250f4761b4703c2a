package main

import "testing"

// A stored title's terminal escapes do not reach the terminal.
func TestOneLine(t *testing.T) {
	for _, c := range []struct {
		in   string
		n    int
		want string
	}{
		{"عنوان  الخبر\nالثاني", 40, "عنوان الخبر الثاني"},
		{"\x1b]0;pwned\a\x1b[2J\x1b[31mRED", 40, "]0;pwned [2J [31mRED"},
		{"abcdef", 4, "abc…"},
	} {
		if got := oneLine(c.in, c.n); got != c.want {
			t.Errorf("oneLine(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}
