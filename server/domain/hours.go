package domain

import (
	"fmt"
	"slices"
	"sync"
	"time"
	_ "time/tzdata" // time zones work on machines without zoneinfo
	"unicode/utf8"
)

// Business hours are when agents take chats on a site: a weekly schedule in
// wall-clock time of the site's zone, less holidays (whole days in that
// zone). Outside them nothing proactive happens — no launch, no
// invitation, no alert — and the widget offers to leave a message. A site
// without hours is always open.
//
// Wall-clock times map to instants in the site's zone. On the day clocks
// spring forward a time that does not exist (02:30 in Europe/Berlin on the
// last Sunday of March) is the instant the clocks jump to (03:00 CEST); on
// the day they fall back a time that occurs twice is its first occurrence.
// So an interval 02:30–04:00 opens at 03:00 that Sunday, and 01:00–02:30
// in October closes at the first 02:30.

// BusinessHours are a site's opening times; the zero value is always open.
type BusinessHours struct {
	// TimeZone is an IANA name such as "Europe/Berlin".
	TimeZone string
	Weekly   []WeeklyInterval
	Holidays []Holiday
}

// DayOfWeek is a day of the week, 1 for Monday to 7 for Sunday (ISO 8601).
type DayOfWeek int

// WeeklyInterval is one opening on one day of the week: Open and Close are
// "HH:MM" in the site's zone, Close after Open, "24:00" the end of the day.
type WeeklyInterval struct {
	Day   DayOfWeek
	Open  string
	Close string
}

// Holiday closes a site from the start of StartDate to the end of EndDate
// ("YYYY-MM-DD" in the site's zone; EndDate empty for one day).
type Holiday struct {
	StartDate string
	EndDate   string
	Name      string
}

// Limits of business hours.
const (
	MaxWeeklyIntervals = 70
	MaxHolidays        = 200
	// MaxHolidayDays is the longest holiday, which bounds NextChange's search.
	MaxHolidayDays = 366
)

// Set reports whether the site has business hours at all.
func (h BusinessHours) Set() bool {
	return h.TimeZone != "" || len(h.Weekly) > 0 || len(h.Holidays) > 0
}

// OpenAt reports whether a site is open at t: within its business hours
// (always, when it has none).
func (s *Site) OpenAt(t time.Time) bool { return s.BusinessHours.OpenAt(t) }

// NextChange returns when after t the site next opens or closes, and false
// when it never does.
func (s *Site) NextChange(t time.Time) (time.Time, bool) { return s.BusinessHours.NextChange(t) }

// OpenAt reports whether the hours say open at t.
func (h BusinessHours) OpenAt(t time.Time) bool {
	if !h.Set() {
		return true
	}
	loc, err := loadZone(h.TimeZone)
	if err != nil {
		return false // refused by validation; a stored site cannot have it
	}
	local := t.In(loc)
	y, m, d := local.Date()
	date := civil(y, m, d)
	if h.holiday(date) {
		return false
	}
	day := isoDay(local.Weekday())
	for _, iv := range h.Weekly {
		if iv.Day != day {
			continue
		}
		open, close := wallTime(y, m, d, hhmm(iv.Open), loc), wallTime(y, m, d, hhmm(iv.Close), loc)
		if !t.Before(open) && t.Before(close) {
			return true
		}
	}
	return false
}

// NextChange returns the first instant after t at which OpenAt differs from
// OpenAt(t), and false when there is none (always open, or never open).
func (h BusinessHours) NextChange(t time.Time) (time.Time, bool) {
	if !h.Set() {
		return time.Time{}, false
	}
	loc, err := loadZone(h.TimeZone)
	if err != nil {
		return time.Time{}, false
	}
	now := h.OpenAt(t)
	y, m, d := t.In(loc).Date()
	// Between two consecutive boundaries (midnights, openings, closings) the
	// state cannot change; a holiday is at most MaxHolidayDays long, so a
	// change that comes at all comes within this horizon.
	for i := 0; i <= 2*MaxHolidayDays+8; i++ {
		var bounds []time.Time
		day := isoDay(time.Date(y, m, d+i, 12, 0, 0, 0, loc).Weekday())
		bounds = append(bounds, wallTime(y, m, d+i, 0, loc))
		for _, iv := range h.Weekly {
			if iv.Day == day {
				bounds = append(bounds, wallTime(y, m, d+i, hhmm(iv.Open), loc), wallTime(y, m, d+i, hhmm(iv.Close), loc))
			}
		}
		slices.SortFunc(bounds, func(a, b time.Time) int { return a.Compare(b) })
		for _, b := range bounds {
			if b.After(t) && h.OpenAt(b) != now {
				return b, true
			}
		}
	}
	return time.Time{}, false
}

// NextOpen returns t when the hours say open at t, else when they next
// open; false when they never do.
func (h BusinessHours) NextOpen(t time.Time) (time.Time, bool) {
	if h.OpenAt(t) {
		return t, true
	}
	return h.NextChange(t)
}

func (h BusinessHours) holiday(date string) bool {
	for _, hd := range h.Holidays {
		if date >= hd.StartDate && date <= max(hd.EndDate, hd.StartDate) {
			return true
		}
	}
	return false
}

func civil(y int, m time.Month, d int) string { return fmt.Sprintf("%04d-%02d-%02d", y, m, d) }

func isoDay(w time.Weekday) DayOfWeek {
	if w == time.Sunday {
		return 7
	}
	return DayOfWeek(w)
}

// hhmm parses a validated "HH:MM" into minutes since midnight.
func hhmm(s string) int {
	var h, m int
	fmt.Sscanf(s, "%d:%d", &h, &m)
	return h*60 + m
}

// wallTime is the instant of minutes past midnight on a date in loc (1440:
// the next midnight): the first occurrence of a wall time that occurs
// twice, and for one that does not exist the instant the clocks jump past it.
func wallTime(y int, m time.Month, d, minutes int, loc *time.Location) time.Time {
	wall := time.Date(y, m, d, 0, minutes, 0, 0, time.UTC) // the wall clock read as UTC
	var found time.Time
	for _, probe := range []time.Time{wall.Add(-26 * time.Hour), wall.Add(26 * time.Hour)} {
		_, off := probe.In(loc).Zone()
		inst := wall.Add(-time.Duration(off) * time.Second)
		l := inst.In(loc)
		if time.Date(l.Year(), l.Month(), l.Day(), l.Hour(), l.Minute(), 0, 0, time.UTC).Equal(wall) &&
			(found.IsZero() || inst.Before(found)) {
			found = inst
		}
	}
	if !found.IsZero() {
		return found
	}
	// In a gap: read with the offset before it, the instant lies after the
	// jump, in the zone that begins with it.
	_, off := wall.Add(-26 * time.Hour).In(loc).Zone()
	start, _ := wall.Add(-time.Duration(off) * time.Second).In(loc).ZoneBounds()
	return start
}

var zones sync.Map // name → *time.Location

// loadZone is time.LoadLocation, remembered.
func loadZone(name string) (*time.Location, error) {
	if l, ok := zones.Load(name); ok {
		return l.(*time.Location), nil
	}
	if name == "" || name == "Local" {
		return nil, fmt.Errorf("%q is not an IANA time zone", name)
	}
	l, err := time.LoadLocation(name)
	if err != nil {
		return nil, err
	}
	zones.Store(name, l)
	return l, nil
}

// parseHHMM checks "HH:MM" and returns minutes since midnight; "24:00" only
// when end is true.
func parseHHMM(s string, end bool) (int, bool) {
	if len(s) != 5 || s[2] != ':' {
		return 0, false
	}
	for _, i := range []int{0, 1, 3, 4} {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	h, m := int(s[0]-'0')*10+int(s[1]-'0'), int(s[3]-'0')*10+int(s[4]-'0')
	if m > 59 || h > 24 || (h == 24 && (m != 0 || !end)) {
		return 0, false
	}
	return h*60 + m, true
}

func checkBusinessHours(v *Violations, h BusinessHours) {
	if !h.Set() {
		return
	}
	if h.TimeZone == "" {
		v.Add("business_hours.time_zone", "is required when business hours are set")
	} else if _, err := loadZone(h.TimeZone); err != nil {
		v.Add("business_hours.time_zone", "%q is not an IANA time zone such as Europe/Berlin", h.TimeZone)
	}
	if len(h.Weekly) > MaxWeeklyIntervals {
		v.Add("business_hours.weekly", "at most %d intervals", MaxWeeklyIntervals)
	}
	type span struct{ open, close, i int }
	byDay := map[DayOfWeek][]span{}
	for i, iv := range h.Weekly {
		field := fmt.Sprintf("business_hours.weekly[%d]", i)
		ok := true
		if iv.Day < 1 || iv.Day > 7 {
			v.Add(field+".day_of_week", "is required (Monday to Sunday)")
			ok = false
		}
		open, okOpen := parseHHMM(iv.Open, false)
		if !okOpen {
			v.Add(field+".open", "%q is not a time HH:MM from 00:00 to 23:59", iv.Open)
		}
		close, okClose := parseHHMM(iv.Close, true)
		if !okClose {
			v.Add(field+".close", "%q is not a time HH:MM from 00:00 to 24:00", iv.Close)
		}
		if okOpen && okClose && close <= open {
			v.Add(field+".close", "must be after open")
			ok = false
		}
		if ok && okOpen && okClose {
			byDay[iv.Day] = append(byDay[iv.Day], span{open, close, i})
		}
	}
	for _, spans := range byDay {
		slices.SortFunc(spans, func(a, b span) int { return a.open - b.open })
		for k := 1; k < len(spans); k++ {
			if spans[k].open < spans[k-1].close {
				v.Add(fmt.Sprintf("business_hours.weekly[%d]", max(spans[k].i, spans[k-1].i)), "overlaps business_hours.weekly[%d]", min(spans[k].i, spans[k-1].i))
			}
		}
	}
	if len(h.Holidays) > MaxHolidays {
		v.Add("business_hours.holidays", "at most %d holidays", MaxHolidays)
	}
	for i, hd := range h.Holidays {
		field := fmt.Sprintf("business_hours.holidays[%d]", i)
		start, err := time.Parse(time.DateOnly, hd.StartDate)
		if err != nil {
			v.Add(field+".start_date", "%q is not a date YYYY-MM-DD", hd.StartDate)
		}
		if hd.EndDate != "" {
			end, err2 := time.Parse(time.DateOnly, hd.EndDate)
			switch {
			case err2 != nil:
				v.Add(field+".end_date", "%q is not a date YYYY-MM-DD", hd.EndDate)
			case err == nil && end.Before(start):
				v.Add(field+".end_date", "must not be before start_date")
			case err == nil && end.Sub(start) >= MaxHolidayDays*24*time.Hour:
				v.Add(field+".end_date", "a holiday is at most %d days", MaxHolidayDays)
			}
		}
		if len(hd.Name) > MaxNameBytes || !utf8.ValidString(hd.Name) {
			v.Add(field+".name", "must be UTF-8, at most %d bytes", MaxNameBytes)
		}
	}
}

// OfflineMessageSettings decide when a visitor is offered to leave a
// message besides outside hours and when nobody can take a chat.
type OfflineMessageSettings struct {
	// MaxWaitSeconds offers it to a queued visitor whose estimated wait is
	// longer; 0 means not for a long wait.
	MaxWaitSeconds uint32
}

// MaxOfflineMaxWaitSeconds bounds OfflineMessageSettings.MaxWaitSeconds.
const MaxOfflineMaxWaitSeconds = 86400

func checkOfflineMessageSettings(v *Violations, o OfflineMessageSettings) {
	if o.MaxWaitSeconds > MaxOfflineMaxWaitSeconds {
		v.Add("offline_message.max_wait_seconds", "must be at most %d", MaxOfflineMaxWaitSeconds)
	}
}
