package fsconf_test

import (
	"encoding/xml"
	"errors"
	"io"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// The files this directory must ship. Paths are relative to fs-conf/.
const (
	dialplanFile    = "dialplan/tonewall.xml"
	modulesFile     = "autoload_configs/modules.conf.xml"
	eventSocketFile = "autoload_configs/event_socket.conf.xml"
	aclFile         = "autoload_configs/acl.conf.xml"
	consoleFile     = "autoload_configs/console.conf.xml"
	logfileFile     = "autoload_configs/logfile.conf.xml"
	rtpTimerFile    = "sip_profiles/rtp-timer.xml"
	readmeFile      = "README.md"
	promptsReadme   = "prompts/README.md"
)

// promptNames are the files the controller plays, without the language folder.
var promptNames = []string{
	"tonewall-enter-card-number.wav", "tonewall-enter-expiry.wav", "tonewall-enter-security-code.wav",
	"tonewall-enter-postcode.wav", "tonewall-invalid-entry.wav", "tonewall-timeout.wav",
	"tonewall-restart.wav", "tonewall-thank-you.wav", "tonewall-capture-failed.wav",
}

type param struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

type action struct {
	Application string `xml:"application,attr"`
	Data        string `xml:"data,attr"`
}

type dialplan struct {
	XMLName    xml.Name `xml:"include"`
	Extensions []struct {
		Name       string `xml:"name,attr"`
		Conditions []struct {
			Field      string   `xml:"field,attr"`
			Expression string   `xml:"expression,attr"`
			Actions    []action `xml:"action"`
		} `xml:"condition"`
	} `xml:"extension"`
}

// Conf is the root element every autoload configuration file shares. It is
// exported because encoding/xml only fills exported embedded structs.
type Conf struct {
	XMLName xml.Name `xml:"configuration"`
	Name    string   `xml:"name,attr"`
}

func (c Conf) confName() string { return c.Name }

type modulesConf struct {
	Conf
	Loads []struct {
		Module string `xml:"module,attr"`
	} `xml:"modules>load"`
}

type settingsConf struct {
	Conf
	Params []param `xml:"settings>param"`
}

type aclList struct {
	Name    string `xml:"name,attr"`
	Default string `xml:"default,attr"`
	Nodes   []struct {
		Type string `xml:"type,attr"`
		CIDR string `xml:"cidr,attr"`
	} `xml:"node"`
}

type aclConf struct {
	Conf
	Lists []aclList `xml:"network-lists>list"`
}

type logMap struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

type consoleConf struct {
	Conf
	Maps   []logMap `xml:"mappings>map"`
	Params []param  `xml:"settings>param"`
}

type logfileConf struct {
	Conf
	Profiles []struct {
		Name string   `xml:"name,attr"`
		Maps []logMap `xml:"mappings>map"`
	} `xml:"profiles>profile"`
}

type snippet struct {
	XMLName xml.Name `xml:"include"`
	Params  []param  `xml:"param"`
}

// decode unmarshals the XML file at path into v.
func decode(t testing.TB, path string, v any) {
	t.Helper()
	if err := xml.Unmarshal([]byte(readText(t, path)), v); err != nil {
		t.Fatalf("unmarshal %s: %v", path, err)
	}
}

// decodeConf unmarshals a <configuration> file into v and checks its name.
func decodeConf(t testing.TB, path, name string, v interface{ confName() string }) {
	t.Helper()
	decode(t, path, v)
	if got := v.confName(); got != name {
		t.Errorf("%s: configuration name = %q, want %q", path, got, name)
	}
}

// readText returns the content of the text file at path.
func readText(t testing.TB, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	return string(b)
}

// paramValue returns the value of the named param, failing the test if it is
// missing or given more than once.
func paramValue(t testing.TB, file string, params []param, name string) string {
	t.Helper()
	var values []string
	for _, p := range params {
		if p.Name == name {
			values = append(values, p.Value)
		}
	}
	if len(values) != 1 {
		t.Fatalf("%s: param %q given %d times, want once", file, name, len(values))
	}
	return values[0]
}

// checkWellFormed reads every token of r and reports the first syntax error,
// or an error when the document does not have exactly one root element.
func checkWellFormed(r io.Reader) error {
	d := xml.NewDecoder(r)
	d.Strict = true
	depth, roots := 0, 0
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		switch tok.(type) {
		case xml.StartElement:
			if depth == 0 {
				roots++
			}
			depth++
		case xml.EndElement:
			depth--
		}
	}
	if roots != 1 {
		return errors.New("want exactly one root element, got " + strconv.Itoa(roots))
	}
	return nil
}

func TestXMLWellFormed(t *testing.T) {
	var found []string
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || filepath.Ext(path) != ".xml" {
			return nil
		}
		found = append(found, filepath.ToSlash(path))
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := checkWellFormed(f); err != nil {
			t.Errorf("%s: not well-formed: %v", path, err)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("walk: %v", err)
	}
	for _, want := range []string{dialplanFile, modulesFile, eventSocketFile, aclFile, consoleFile, logfileFile, rtpTimerFile} {
		if !slices.Contains(found, want) {
			t.Errorf("missing %s (found %v)", want, found)
		}
	}
}

func TestCheckWellFormedRejects(t *testing.T) {
	tests := []struct {
		name string
		doc  string
	}{
		{"double dash in comment", "<include><!-- use --prompt-dir --></include>"},
		{"unclosed element", "<include><extension></include>"},
		{"bare ampersand", `<include><action data="a&b"/></include>`},
		{"two roots", "<a/><b/>"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := checkWellFormed(strings.NewReader(tt.doc)); err == nil {
				t.Errorf("checkWellFormed(%q) = nil, want an error", tt.doc)
			}
		})
	}
}

// dialplanActions returns the actions of the single tonewall extension.
func dialplanActions(t testing.TB) []action {
	t.Helper()
	var dp dialplan
	decode(t, dialplanFile, &dp)
	if len(dp.Extensions) != 1 || dp.Extensions[0].Name != "tonewall" {
		t.Fatalf("%s: want one extension named tonewall, got %+v", dialplanFile, dp.Extensions)
	}
	conds := dp.Extensions[0].Conditions
	if len(conds) != 1 || conds[0].Field != "destination_number" {
		t.Fatalf("%s: want one destination_number condition, got %d", dialplanFile, len(conds))
	}
	re, err := regexp.Compile(conds[0].Expression)
	if err != nil {
		t.Fatalf("%s: destination expression: %v", dialplanFile, err)
	}
	if !re.MatchString("7000") {
		t.Errorf("%s: expression %q does not match the documented example 7000", dialplanFile, conds[0].Expression)
	}
	return conds[0].Actions
}

// setVar is one "set" or "export" action split into name and value.
type setVar struct {
	index     int
	app, name string
	value     string
}

// setVars returns the set and export actions, in dialplan order.
func setVars(actions []action) []setVar {
	var vars []setVar
	for i, a := range actions {
		if a.Application != "set" && a.Application != "export" {
			continue
		}
		name, value, _ := strings.Cut(a.Data, "=")
		name = strings.TrimPrefix(name, "nolocal:")
		vars = append(vars, setVar{index: i, app: a.Application, name: name, value: value})
	}
	return vars
}

// lookupVar returns the first set or export of the named variable.
func lookupVar(vars []setVar, name string) (setVar, bool) {
	i := slices.IndexFunc(vars, func(v setVar) bool { return v.name == name })
	if i < 0 {
		return setVar{}, false
	}
	return vars[i], true
}

func TestDialplanShape(t *testing.T) {
	actions := dialplanActions(t)
	if len(actions) < 2 {
		t.Fatalf("want at least answer and socket, got %d actions", len(actions))
	}
	if actions[0].Application != "answer" {
		t.Errorf("first action = %q, want answer", actions[0].Application)
	}
	last := actions[len(actions)-1]
	if last.Application != "socket" {
		t.Fatalf("last action = %q, want socket", last.Application)
	}
	socketLine := regexp.MustCompile(`^[^\s|]+:\d+(\|[^\s|]+:\d+)* async full$`)
	if !socketLine.MatchString(last.Data) {
		t.Errorf("socket data = %q, want host:port[|host:port...] async full", last.Data)
	}
	if !strings.HasPrefix(last.Data, "127.0.0.1:8084 ") {
		t.Errorf("socket data = %q, want the documented default 127.0.0.1:8084", last.Data)
	}
	if i := slices.IndexFunc(actions, func(a action) bool { return a.Application == "socket" }); i != len(actions)-1 {
		t.Errorf("socket also at action %d, want it once, last", i)
	}
	failover := regexp.MustCompile(`application="socket" data="[^"\s]+:\d+\|[^"\s]+:\d+ async full"`)
	if !failover.MatchString(readText(t, dialplanFile)) {
		t.Error("no commented failover example (host:port|host:port async full)")
	}
}

// varRef matches a FreeSWITCH variable reference: ${name} or $${name}.
var varRef = regexp.MustCompile(`\$\$?\{[^}]*\}`)

func TestDialplanVariables(t *testing.T) {
	vars := setVars(dialplanActions(t))
	tests := []struct {
		name  string
		check func(value string) bool
		want  string
	}{
		{"playback_terminators", func(v string) bool { return v == "none" }, "none"},
		{"digits_dialed_filter", func(v string) bool { return v != "" }, "a pattern"},
		{"tonewall_agent", func(v string) bool {
			// ${...} is expanded by set; what the controller receives must
			// have no variable block and no list of destinations.
			v = varRef.ReplaceAllString(v, "x")
			return v != "" && !strings.ContainsAny(v, "{}[],|")
		}, "a single dial string without {} [] , |"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, ok := lookupVar(vars, tt.name)
			if !ok {
				t.Fatalf("%s is not set", tt.name)
			}
			if v.app != "set" {
				t.Errorf("%s is set with %q, want set (on leg A)", tt.name, v.app)
			}
			if !tt.check(v.value) {
				t.Errorf("%s = %q, want %s", tt.name, v.value, tt.want)
			}
		})
	}
}

func TestDialplanForbidden(t *testing.T) {
	actions := dialplanActions(t)
	vars := setVars(actions)
	forbiddenVars := []string{"pass_rfc2833", "sensitive_dtmf", "bypass_media", "proxy_media", "dtmf_verbose"}
	for _, name := range forbiddenVars {
		if v, ok := lookupVar(vars, name); ok {
			t.Errorf("action %d sets %s; it must not be configured", v.index, name)
		}
	}
	forbiddenApps := []string{"start_dtmf", "spandsp_start_dtmf", "play_and_get_digits", "read", "bridge"}
	for i, a := range actions {
		if slices.Contains(forbiddenApps, a.Application) {
			t.Errorf("action %d runs %s; it must not be in the dialplan", i, a.Application)
		}
	}
}

func TestDialplanRecording(t *testing.T) {
	actions := dialplanActions(t)
	vars := setVars(actions)
	for i, a := range actions {
		if a.Application != "record_session" {
			continue
		}
		if a.Data != "${tonewall_record_path}" {
			t.Errorf("record_session data = %q, want ${tonewall_record_path} so the controller masks the same path", a.Data)
		}
		v, ok := lookupVar(vars, "tonewall_record_path")
		if !ok || v.index > i || v.value == "" {
			t.Errorf("tonewall_record_path must be set (non-empty) before record_session")
		}
	}
}

// maskDigitsDialed reproduces how FreeSWITCH applies digits_dialed_filter
// (switch_channel_set_timestamps): the pattern is matched once; for the whole
// match and each capture group, every occurrence of the matched text is
// replaced by as many X. The result is what CDRs show.
func maskDigitsDialed(digits, pattern string) (string, error) {
	re, err := regexp.Compile(pattern)
	if err != nil {
		return "", err
	}
	out := digits
	for _, sub := range re.FindStringSubmatch(digits) {
		if sub == "" {
			continue
		}
		out = strings.ReplaceAll(out, sub, strings.Repeat("X", len(sub)))
	}
	return out, nil
}

// leaksDigit reports whether s still holds a DTMF symbol.
func leaksDigit(s string) bool {
	return strings.ContainsFunc(s, func(r rune) bool {
		return strings.ContainsRune("0123456789*#ABCDabcd", r)
	})
}

func TestDigitsDialedFilter(t *testing.T) {
	v, ok := lookupVar(setVars(dialplanActions(t)), "digits_dialed_filter")
	if !ok {
		t.Fatal("digits_dialed_filter is not set")
	}
	// Test card numbers only; failures report lengths, never the digits.
	samples := []string{"4111111111111111", "4111111111111111#1228#123#", "*5555555555554444#0130#737#", "1#2*3AbCd90", "7"}
	tests := []struct {
		name    string
		pattern string
		leaks   bool
	}{
		{"shipped", v.value, false},
		{"single character class leaks", "[0-9*#A-D]", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			leaked := false
			for _, digits := range samples {
				got, err := maskDigitsDialed(digits, tt.pattern)
				if err != nil {
					t.Fatalf("pattern %q: %v", tt.pattern, err)
				}
				if len(got) != len(digits) {
					t.Errorf("masked length %d, want %d", len(got), len(digits))
				}
				if leaksDigit(got) {
					leaked = true
					if !tt.leaks {
						t.Errorf("pattern %q leaves digits in a %d-symbol string", tt.pattern, len(digits))
					}
				}
			}
			if tt.leaks && !leaked {
				t.Errorf("pattern %q was expected to leak on the samples; the simulation is wrong", tt.pattern)
			}
		})
	}
	if !strings.Contains(readText(t, readmeFile), "`"+v.value+"`") {
		t.Errorf("README does not show the shipped digits_dialed_filter %q", v.value)
	}
}

func TestModules(t *testing.T) {
	var mods modulesConf
	decodeConf(t, modulesFile, "modules.conf", &mods)
	want := []string{
		"mod_commands", "mod_console", "mod_dialplan_xml", "mod_dptools", "mod_event_socket",
		"mod_logfile", "mod_sndfile", "mod_sofia", "mod_spandsp", "mod_tone_stream",
	}
	var got []string
	for _, l := range mods.Loads {
		got = append(got, l.Module)
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("loaded modules = %v, want exactly %v", got, want)
	}
}

func TestEventSocketLockedDown(t *testing.T) {
	var es settingsConf
	decodeConf(t, eventSocketFile, "event_socket.conf", &es)
	ip, err := netip.ParseAddr(paramValue(t, eventSocketFile, es.Params, "listen-ip"))
	if err != nil || !ip.IsLoopback() {
		t.Errorf("listen-ip = %v (%v), want a loopback address", ip, err)
	}
	switch pw := paramValue(t, eventSocketFile, es.Params, "password"); pw {
	case "ClueCon", "":
		t.Errorf("password = %q, want a non-default placeholder", pw)
	case "CHANGE_ME":
		if !strings.Contains(readText(t, readmeFile), "CHANGE_ME") {
			t.Error("README does not tell the reader to change CHANGE_ME")
		}
	default:
		t.Errorf("password = %q, want the documented placeholder CHANGE_ME", pw)
	}
	listName := paramValue(t, eventSocketFile, es.Params, "apply-inbound-acl")

	var acl aclConf
	decodeConf(t, aclFile, "acl.conf", &acl)
	i := slices.IndexFunc(acl.Lists, func(l aclList) bool { return l.Name == listName })
	if i < 0 {
		t.Fatalf("ACL list %q (apply-inbound-acl) is not in %s", listName, aclFile)
	}
	list := acl.Lists[i]
	if list.Default != "deny" {
		t.Errorf("list %q default = %q, want deny", listName, list.Default)
	}
	allows := 0
	for _, n := range list.Nodes {
		if n.Type != "allow" {
			continue
		}
		allows++
		p, err := netip.ParsePrefix(n.CIDR)
		if err != nil {
			t.Errorf("list %q: allow node %+v is not a CIDR: %v", listName, n, err)
			continue
		}
		if !isLoopbackPrefix(p) {
			t.Errorf("list %q allows %s, want loopback only", listName, p)
		}
	}
	if allows == 0 {
		t.Errorf("list %q allows nothing: fs_cli could not connect", listName)
	}
}

// isLoopbackPrefix reports whether every address in p is a loopback address.
func isLoopbackPrefix(p netip.Prefix) bool {
	if !p.Addr().IsLoopback() {
		return false
	}
	if p.Addr().Is4() {
		return p.Bits() >= 8
	}
	return p.Bits() == 128
}

func TestIsLoopbackPrefix(t *testing.T) {
	tests := []struct {
		cidr string
		want bool
	}{
		{"127.0.0.1/32", true},
		{"127.0.0.0/8", true},
		{"::1/128", true},
		{"0.0.0.0/0", false},
		{"10.0.0.0/8", false},
		{"127.0.0.1/1", false},
	}
	for _, tt := range tests {
		if got := isLoopbackPrefix(netip.MustParsePrefix(tt.cidr)); got != tt.want {
			t.Errorf("isLoopbackPrefix(%s) = %v, want %v", tt.cidr, got, tt.want)
		}
	}
}

func TestRTPTimerSnippet(t *testing.T) {
	var s snippet
	decode(t, rtpTimerFile, &s)
	if got := paramValue(t, rtpTimerFile, s.Params, "rtp-timer-name"); got != "soft" {
		t.Errorf("rtp-timer-name = %q, want soft", got)
	}
}

// leakyLevels returns the levels in a map value or loglevel setting that would
// let INFO or DEBUG lines (which carry DTMF digits) through.
func leakyLevels(value string) []string {
	var leaky []string
	for _, l := range strings.Split(value, ",") {
		l = strings.ToLower(strings.TrimSpace(l))
		switch l {
		case "console", "alert", "crit", "err", "warning", "notice":
			continue
		}
		if n, err := strconv.Atoi(l); err == nil && n <= 5 {
			continue
		}
		leaky = append(leaky, l)
	}
	return leaky
}

func TestLeakyLevels(t *testing.T) {
	tests := []struct {
		value string
		want  []string
	}{
		{"console,notice,warning,err,crit,alert", nil},
		{"notice", nil},
		{"5", nil},
		{"info", []string{"info"}},
		{"warning, DEBUG", []string{"debug"}},
		{"all", []string{"all"}},
		{"7", []string{"7"}},
		{"$${console_loglevel}", []string{"$${console_loglevel}"}},
	}
	for _, tt := range tests {
		if got := leakyLevels(tt.value); !slices.Equal(got, tt.want) {
			t.Errorf("leakyLevels(%q) = %v, want %v", tt.value, got, tt.want)
		}
	}
}

// checkMaps fails the test when a map lets INFO or DEBUG through, or when
// there is no "all" map.
func checkMaps(t testing.TB, where string, maps []logMap) {
	t.Helper()
	hasAll := false
	for _, m := range maps {
		if m.Name == "all" {
			hasAll = true
		}
		if leaky := leakyLevels(m.Value); len(leaky) > 0 {
			t.Errorf("%s: map %q enables %v: RECV DTMF lines would be logged", where, m.Name, leaky)
		}
	}
	if !hasAll {
		t.Errorf("%s: no map named all", where)
	}
}

func TestDTMFLogGuard(t *testing.T) {
	var console consoleConf
	decodeConf(t, consoleFile, "console.conf", &console)
	checkMaps(t, consoleFile, console.Maps)
	if leaky := leakyLevels(paramValue(t, consoleFile, console.Params, "loglevel")); len(leaky) > 0 {
		t.Errorf("%s: loglevel %v lets INFO or DEBUG through", consoleFile, leaky)
	}

	var logfile logfileConf
	decodeConf(t, logfileFile, "logfile.conf", &logfile)
	if len(logfile.Profiles) == 0 {
		t.Fatalf("%s: no profiles", logfileFile)
	}
	for _, p := range logfile.Profiles {
		checkMaps(t, logfileFile+" profile "+p.Name, p.Maps)
	}

	if readme := readText(t, readmeFile); !strings.Contains(readme, `<param name="loglevel" value="notice"/>`) {
		t.Error("README does not give the switch.conf.xml core loglevel line")
	}
}

func TestPromptNamesDocumented(t *testing.T) {
	for _, file := range []string{readmeFile, promptsReadme} {
		text := readText(t, file)
		for _, name := range promptNames {
			if !strings.Contains(text, name) {
				t.Errorf("%s does not list prompt %s", file, name)
			}
		}
		if !strings.Contains(text, "--prompt-dir") {
			t.Errorf("%s does not mention --prompt-dir", file)
		}
	}
}
