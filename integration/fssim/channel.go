package fssim

import (
	"strings"
)

// legState is where a channel is in its life.
type legState int

const (
	legUp        legState = iota // answered, CS_EXECUTE
	legHangingUp                 // hung up, events of the hang-up still firing
	legDown                      // CS_REPORTING: CHANNEL_HANGUP_COMPLETE fired
)

// Placeholders in the channel-variable templates; each leg holds their values.
const (
	phUUID = iota
	phCaller
	phDest
	phSession
	phCallID
	phStamp
	phFromTag
	phToTag
	phBranch
	phSSRC
	phLocalPort
	phRemotePort
	phSockData
	phSockHost
	phChan
	phPeer
	phPeerChan
	phURI
	numPlaceholders
)

var placeholderNames = [numPlaceholders]string{
	"uuid", "caller", "dest", "session", "callid", "stamp", "fromtag", "totag", "branch",
	"ssrc", "lport", "rport", "sockdata", "sockhost", "chan", "peer", "peerchan", "uri",
}

// seg is one piece of a templated value: a literal (raw and URL-encoded) or a
// placeholder.
type seg struct {
	raw, enc string
	ph       int // -1 for a literal
}

// varTemplate is one channel variable of a template.
type varTemplate struct {
	name   string // without the variable_ prefix
	prefix string // "variable_<name>: "
	segs   []seg
}

// compileVars turns name/value pairs whose values may contain {placeholder}
// into templates. Templates are shared by every leg; a leg only stores the
// placeholder values, which keeps per-call memory small.
func compileVars(pairs []string) []varTemplate {
	out := make([]varTemplate, 0, len(pairs)/2)
	for i := 0; i+1 < len(pairs); i += 2 {
		t := varTemplate{name: pairs[i], prefix: "variable_" + pairs[i] + ": "}
		v := pairs[i+1]
		for v != "" {
			open := strings.IndexByte(v, '{')
			end := -1
			ph := -1
			if open >= 0 {
				if e := strings.IndexByte(v[open:], '}'); e > 0 {
					end = open + e
					name := v[open+1 : end]
					for k, n := range placeholderNames {
						if n == name {
							ph = k
						}
					}
				}
			}
			if ph < 0 {
				t.segs = append(t.segs, seg{raw: v, enc: urlEncode(v), ph: -1})
				break
			}
			if open > 0 {
				t.segs = append(t.segs, seg{raw: v[:open], enc: urlEncode(v[:open]), ph: -1})
			}
			t.segs = append(t.segs, seg{ph: ph})
			v = v[end+1:]
		}
		out = append(out, t)
	}
	return out
}

const sdpA = "v=0\r\no=FreeSWITCH 1796382442 1796382443 IN IP4 127.0.0.1\r\ns=FreeSWITCH\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n" +
	"m=audio {rport} RTP/AVP 0 101 13\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\n" +
	"a=rtpmap:13 CN/8000\r\na=ptime:20\r\n"

const sdpLocal = "v=0\r\no=FreeSWITCH 1796382428 1796382429 IN IP4 127.0.0.1\r\ns=FreeSWITCH\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n" +
	"m=audio {lport} RTP/AVP 0 101 13\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\n" +
	"a=rtpmap:13 CN/8000\r\na=ptime:20\r\na=sendrecv\r\n"

// varsA are the channel variables of the customer leg when the socket
// application runs, in FreeSWITCH's order (see connect-reply.txt).
var varsA = compileVars([]string{
	"direction", "inbound",
	"uuid", "{uuid}",
	"session_id", "{session}",
	"sip_from_user", "{caller}",
	"sip_from_uri", "{caller}@127.0.0.1",
	"sip_from_host", "127.0.0.1",
	"video_media_flow", "disabled",
	"text_media_flow", "disabled",
	"channel_name", "{chan}",
	"sip_call_id", "{callid}",
	"sip_local_network_addr", "127.0.0.1",
	"sip_network_ip", "127.0.0.1",
	"sip_network_port", "5060",
	"sip_invite_stamp", "{stamp}",
	"sip_received_ip", "127.0.0.1",
	"sip_received_port", "5060",
	"sip_via_protocol", "udp",
	"sip_from_user_stripped", "{caller}",
	"sip_from_tag", "{fromtag}",
	"sofia_profile_name", "internal",
	"sofia_profile_url", "sip:mod_sofia@127.0.0.1:5060",
	"recovery_profile_name", "internal",
	"sip_Remote-Party-ID", `"caller" <sip:{caller}@127.0.0.1>;party=calling;screen=yes;privacy=off`,
	"sip_cid_type", "rpid",
	"sip_full_via", "SIP/2.0/UDP 127.0.0.1;rport=5060;branch=z9hG4bK{branch}",
	"sip_from_display", "caller",
	"sip_full_from", `"caller" <sip:{caller}@127.0.0.1>;tag={fromtag}`,
	"sip_full_to", "<sip:{dest}@127.0.0.1:5060>",
	"sip_allow", "INVITE, ACK, BYE, CANCEL, OPTIONS, MESSAGE, INFO, UPDATE, REGISTER, REFER, NOTIFY",
	"sip_req_user", "{dest}",
	"sip_req_port", "5060",
	"sip_req_uri", "{dest}@127.0.0.1:5060",
	"sip_req_host", "127.0.0.1",
	"sip_to_user", "{dest}",
	"sip_to_port", "5060",
	"sip_to_uri", "{dest}@127.0.0.1:5060",
	"sip_to_host", "127.0.0.1",
	"sip_contact_user", "mod_sofia",
	"sip_contact_port", "5060",
	"sip_contact_uri", "mod_sofia@127.0.0.1:5060",
	"sip_contact_host", "127.0.0.1",
	"sip_user_agent", "FreeSWITCH-mod_sofia/1.10.12-release~64bit",
	"sip_via_host", "127.0.0.1",
	"sip_via_rport", "5060",
	"max_forwards", "70",
	"switch_r_sdp", sdpA,
	"ep_codec_string", "CORE_PCM_MODULE.PCMU@8000h@20i@64000b",
	"rtp_use_codec_string", "PCMU,PCMA",
	"remote_video_media_flow", "inactive",
	"remote_text_media_flow", "inactive",
	"remote_audio_media_flow", "sendrecv",
	"audio_media_flow", "sendrecv",
	"rtp_audio_recv_pt", "0",
	"rtp_use_codec_name", "PCMU",
	"rtp_use_codec_rate", "8000",
	"rtp_use_codec_ptime", "20",
	"rtp_use_codec_channels", "1",
	"rtp_last_audio_codec_string", "PCMU@8000h@20i@1c",
	"read_codec", "PCMU",
	"original_read_codec", "PCMU",
	"read_rate", "8000",
	"original_read_rate", "8000",
	"write_codec", "PCMU",
	"write_rate", "8000",
	"dtmf_type", "rfc2833",
	"call_uuid", "{uuid}",
	"rtp_local_sdp_str", sdpLocal,
	"local_media_ip", "127.0.0.1",
	"local_media_port", "{lport}",
	"advertised_media_ip", "127.0.0.1",
	"rtp_use_timer_name", "soft",
	"rtp_use_pt", "0",
	"rtp_use_ssrc", "{ssrc}",
	"rtp_2833_send_payload", "101",
	"rtp_2833_recv_payload", "101",
	"remote_media_ip", "127.0.0.1",
	"remote_media_port", "{rport}",
	"endpoint_disposition", "ANSWER",
	"current_application_data", "{sockdata}",
	"current_application", "socket",
	"socket_host", "{sockhost}",
})

// varsB are the channel variables of the agent leg once it has answered
// (modelled on event-channel-hangup-complete-B.txt).
var varsB = compileVars([]string{
	"direction", "outbound",
	"is_outbound", "true",
	"uuid", "{uuid}",
	"session_id", "{session}",
	"sip_profile_name", "internal",
	"text_media_flow", "disabled",
	"channel_name", "{chan}",
	"sip_destination_url", "sip:{uri}",
	"sip_cid_type", "rpid",
	"max_forwards", "69",
	"originator_codec", "PCMU@8000h@20i",
	"originator", "{peer}",
	"switch_m_sdp", sdpA,
	"origination_uuid", "{uuid}",
	"originate_early_media", "true",
	"originating_leg_uuid", "{peer}",
	"originate_endpoint", "sofia",
	"audio_media_flow", "sendrecv",
	"video_media_flow", "inactive",
	"rtp_local_sdp_str", sdpLocal,
	"sip_outgoing_contact_uri", "<sip:mod_sofia@127.0.0.1:5060>",
	"sip_req_uri", "{uri}",
	"sofia_profile_name", "internal",
	"recovery_profile_name", "internal",
	"sofia_profile_url", "sip:mod_sofia@127.0.0.1:5060",
	"sip_local_network_addr", "127.0.0.1",
	"sip_reply_host", "127.0.0.1",
	"sip_reply_port", "5060",
	"sip_network_ip", "127.0.0.1",
	"sip_network_port", "5060",
	"sip_user_agent", "FreeSWITCH-mod_sofia/1.10.12-release~64bit",
	"sip_allow", "INVITE, ACK, BYE, CANCEL, OPTIONS, MESSAGE, INFO, UPDATE, REGISTER, REFER, NOTIFY",
	"sip_full_via", "SIP/2.0/UDP 127.0.0.1;rport=5060;branch=z9hG4bK{branch}",
	"sip_from_display", "caller",
	"sip_full_from", `"caller" <sip:{caller}@127.0.0.1>;tag={fromtag}`,
	"sip_full_to", "<sip:{uri}>;tag={totag}",
	"sip_from_user", "{caller}",
	"sip_from_uri", "{caller}@127.0.0.1",
	"sip_from_host", "127.0.0.1",
	"sip_to_user", "{dest}",
	"sip_to_uri", "{uri}",
	"sip_to_host", "127.0.0.1",
	"sip_to_tag", "{totag}",
	"sip_from_tag", "{fromtag}",
	"sip_call_id", "{callid}",
	"switch_r_sdp", sdpA,
	"ep_codec_string", "CORE_PCM_MODULE.PCMU@8000h@20i@64000b",
	"rtp_use_codec_string", "PCMU",
	"rtp_audio_recv_pt", "0",
	"rtp_use_codec_name", "PCMU",
	"rtp_use_codec_rate", "8000",
	"rtp_use_codec_ptime", "20",
	"rtp_use_codec_channels", "1",
	"read_codec", "PCMU",
	"read_rate", "8000",
	"write_codec", "PCMU",
	"write_rate", "8000",
	"dtmf_type", "rfc2833",
	"local_media_ip", "127.0.0.1",
	"local_media_port", "{lport}",
	"rtp_use_ssrc", "{ssrc}",
	"remote_media_ip", "127.0.0.1",
	"remote_media_port", "{rport}",
	"endpoint_disposition", "ANSWER",
	"call_uuid", "{peer}",
	"last_bridge_to", "{peer}",
	"bridge_channel", "{peerchan}",
	"bridge_uuid", "{peer}",
	"signal_bond", "{peer}",
})

// profile is a caller profile as FreeSWITCH renders it under a prefix
// ("Caller-", "Channel-", "Other-Leg-").
type profile struct {
	direction, logical           string
	username, cidName, cidNumber string
	callee                       string // Callee-ID name and number; "" omits them
	dest, uuid, channel          string
	index                        bool
	created, answered            int64
	hangup, bridged              int64
}

// writeProfile appends the profile's headers; values are URL-encoded.
func writeProfile(b *wbuf, prefix string, p *profile) {
	line := func(name, value string) {
		b.put(prefix)
		b.put(name)
		b.put(": ")
		b.putEncoded(value)
		b.putc('\n')
	}
	num := func(name string, v int64) {
		b.put(prefix)
		b.put(name)
		b.put(": ")
		b.putInt(v)
		b.putc('\n')
	}
	line("Direction", p.direction)
	line("Logical-Direction", p.logical)
	line("Username", p.username)
	line("Dialplan", "XML")
	line("Caller-ID-Name", p.cidName)
	line("Caller-ID-Number", p.cidNumber)
	line("Orig-Caller-ID-Name", p.cidName)
	line("Orig-Caller-ID-Number", p.cidNumber)
	if p.callee != "" {
		line("Callee-ID-Name", p.callee)
		line("Callee-ID-Number", p.callee)
	}
	line("Network-Addr", "127.0.0.1")
	line("ANI", p.cidNumber)
	line("Destination-Number", p.dest)
	line("Unique-ID", p.uuid)
	line("Source", "mod_sofia")
	line("Context", "default")
	line("Channel-Name", p.channel)
	if p.index {
		line("Profile-Index", "1")
	}
	num("Profile-Created-Time", p.created)
	num("Channel-Created-Time", p.created)
	num("Channel-Answered-Time", p.answered)
	line("Channel-Progress-Time", "0")
	line("Channel-Progress-Media-Time", "0")
	num("Channel-Hangup-Time", p.hangup)
	line("Channel-Transfer-Time", "0")
	line("Channel-Resurrect-Time", "0")
	num("Channel-Bridged-Time", p.bridged)
	b.put(prefix)
	b.put("Channel-Last-Hold: 0\n")
	b.put(prefix)
	b.put("Channel-Hold-Accum: 0\n")
	b.put(prefix)
	b.put("Screen-Bit: true\n")
	b.put(prefix)
	b.put("Privacy-Hide-Name: false\n")
	b.put(prefix)
	b.put("Privacy-Hide-Number: false\n")
}

// codecHeaders follow Answer-State in every channel event.
const codecHeaders = "Channel-Read-Codec-Name: PCMU\nChannel-Read-Codec-Rate: 8000\nChannel-Read-Codec-Bit-Rate: 64000\n" +
	"Channel-Write-Codec-Name: PCMU\nChannel-Write-Codec-Rate: 8000\nChannel-Write-Codec-Bit-Rate: 64000\n"

// leg is one channel of a call: A, the customer's inbound leg controlled by
// the socket, or B, the outbound leg to the agent.
type leg struct {
	call     *Call
	uuid     string
	isA      bool
	state    legState
	cause    string
	ph       [numPlaceholders]string
	tmpl     []varTemplate
	dropped  []uint64 // bit i set: template variable i was unset or moved to dyn
	dyn      []header // variables set at run time, in order, raw values
	username string   // caller number shown in the profile
	dest     string   // destination number (A) or agent user (B)
	callee   string   // Callee-ID once bridged (A)
	created  int64
	bridged  int64
	hungup   int64
	other    *leg // bridged peer; kept after the unbridge for Other-Leg headers
	media    legMedia
}

// chanName is the channel name, raw.
func (l *leg) chanName() string { return l.ph[phChan] }

// getVar returns a channel variable's raw value.
func (l *leg) getVar(name string) (string, bool) {
	for i := len(l.dyn) - 1; i >= 0; i-- {
		if l.dyn[i].name == name {
			return l.dyn[i].value, true
		}
	}
	for i, t := range l.tmpl {
		if t.name != name || l.isDropped(i) {
			continue
		}
		var b strings.Builder
		for _, s := range t.segs {
			if s.ph >= 0 {
				b.WriteString(l.ph[s.ph])
			} else {
				b.WriteString(s.raw)
			}
		}
		return b.String(), true
	}
	return "", false
}

// setVar sets (or, with an empty value and unset, removes) a variable. As in
// FreeSWITCH, setting a variable moves it to the end of the list.
func (l *leg) setVar(name, value string, unset bool) {
	for i, t := range l.tmpl {
		if t.name == name {
			l.drop(i)
		}
	}
	for i := 0; i < len(l.dyn); i++ {
		if l.dyn[i].name == name {
			l.dyn = append(l.dyn[:i], l.dyn[i+1:]...)
			i--
		}
	}
	if !unset {
		l.dyn = append(l.dyn, header{name: name, value: value})
	}
}

func (l *leg) isDropped(i int) bool {
	w := i / 64
	return w < len(l.dropped) && l.dropped[w]&(1<<(uint(i)%64)) != 0
}

func (l *leg) drop(i int) {
	w := i / 64
	for len(l.dropped) <= w {
		l.dropped = append(l.dropped, 0)
	}
	l.dropped[w] |= 1 << (uint(i) % 64)
}

// writeVars appends every channel variable as variable_<name> headers.
func (l *leg) writeVars(b *wbuf) {
	for i := range l.tmpl {
		if l.isDropped(i) {
			continue
		}
		t := &l.tmpl[i]
		b.put(t.prefix)
		for _, s := range t.segs {
			if s.ph >= 0 {
				b.putEncoded(l.ph[s.ph])
			} else {
				b.put(s.enc)
			}
		}
		b.putc('\n')
	}
	for _, h := range l.dyn {
		b.put("variable_")
		b.put(h.name)
		b.put(": ")
		b.putValue(h.value)
		b.putc('\n')
	}
}

// ownProfile is the leg's caller profile.
func (l *leg) ownProfile() profile {
	p := profile{
		username: l.username, cidName: "caller", cidNumber: l.username,
		dest: l.dest, uuid: l.uuid, channel: l.chanName(), index: true,
		created: l.created, answered: l.created, hangup: l.hungup, bridged: l.bridged,
	}
	if l.isA {
		p.direction, p.logical, p.callee = "inbound", "inbound", l.callee
	} else {
		p.direction, p.logical, p.callee = "outbound", "outbound", l.dest
	}
	return p
}

// otherProfile is how the bridged peer appears in this leg's Other-Leg
// headers: the originatee (B) seen from A, the originator (A) seen from B.
func (l *leg) otherProfile() (kind string, p profile) {
	o := l.other
	p = o.ownProfile()
	p.index = false
	p.hangup, p.bridged = 0, 0
	if l.isA {
		p.logical = "inbound"
		return "originatee", p
	}
	p.callee = ""
	p.created, p.answered = 0, 0
	return "originator", p
}

// writeChannel appends the channel headers FreeSWITCH puts in every channel
// event: state, identity, codecs, the caller profile and, once bridged, the
// other leg. reporting selects the CS_REPORTING state of HANGUP_COMPLETE.
func (l *leg) writeChannel(b *wbuf, reporting bool) {
	switch {
	case reporting:
		b.put("Channel-State: CS_REPORTING\nChannel-Call-State: HANGUP\nChannel-State-Number: 11\n")
	case l.state == legUp:
		b.put("Channel-State: CS_EXECUTE\nChannel-Call-State: ACTIVE\nChannel-State-Number: 4\n")
	default:
		b.put("Channel-State: CS_EXECUTE\nChannel-Call-State: ACTIVE\nChannel-State-Number: 10\n")
	}
	b.put("Channel-Name: ")
	b.putEncoded(l.chanName())
	b.put("\nUnique-ID: ")
	b.put(l.uuid)
	if l.isA {
		b.put("\nCall-Direction: inbound\nPresence-Call-Direction: inbound\nChannel-HIT-Dialplan: true\nChannel-Call-UUID: ")
		b.put(l.uuid)
	} else {
		b.put("\nCall-Direction: outbound\nPresence-Call-Direction: outbound\nChannel-HIT-Dialplan: false\nChannel-Call-UUID: ")
		b.put(l.ph[phPeer])
	}
	if l.state == legUp {
		b.put("\nAnswer-State: answered\n")
	} else {
		b.put("\nAnswer-State: hangup\nHangup-Cause: ")
		b.put(l.cause)
		b.putc('\n')
	}
	b.put(codecHeaders)
	p := l.ownProfile()
	writeProfile(b, "Caller-", &p)
	if l.other != nil {
		kind, op := l.otherProfile()
		b.put("Other-Type: ")
		b.put(kind)
		b.putc('\n')
		writeProfile(b, "Other-Leg-", &op)
	}
}
