package domain_test

import (
	"strings"
	"testing"
	"time"

	"github.com/proactivechat/proactivechat/server/domain"
)

func berlin(t *testing.T) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func TestBusinessHoursOpenAt(t *testing.T) {
	loc := berlin(t)
	at := func(s string) time.Time {
		tm, err := time.ParseInLocation("2006-01-02 15:04", s, loc)
		if err != nil {
			t.Fatal(err)
		}
		return tm
	}
	weekdays := func(open, close string) []domain.WeeklyInterval {
		var out []domain.WeeklyInterval
		for d := domain.DayOfWeek(1); d <= 5; d++ {
			out = append(out, domain.WeeklyInterval{Day: d, Open: open, Close: close})
		}
		return out
	}
	office := domain.BusinessHours{TimeZone: "Europe/Berlin", Weekly: weekdays("09:00", "17:00"),
		Holidays: []domain.Holiday{{StartDate: "2026-12-24", EndDate: "2026-12-26", Name: "Christmas"}, {StartDate: "2026-10-27"}}}
	split := domain.BusinessHours{TimeZone: "Europe/Berlin", Weekly: []domain.WeeklyInterval{
		{Day: 1, Open: "08:00", Close: "12:00"}, {Day: 1, Open: "13:00", Close: "24:00"}, {Day: 2, Open: "00:00", Close: "02:00"}}}
	// Sunday 2026-03-29 clocks spring forward 02:00 → 03:00; Sunday
	// 2026-10-25 they fall back 03:00 → 02:00.
	night := domain.BusinessHours{TimeZone: "Europe/Berlin", Weekly: []domain.WeeklyInterval{{Day: 7, Open: "02:30", Close: "04:00"}}}
	early := domain.BusinessHours{TimeZone: "Europe/Berlin", Weekly: []domain.WeeklyInterval{{Day: 7, Open: "01:00", Close: "02:30"}}}
	ny := domain.BusinessHours{TimeZone: "America/New_York", Weekly: []domain.WeeklyInterval{{Day: 4, Open: "20:00", Close: "24:00"}, {Day: 5, Open: "00:00", Close: "10:00"}},
		Holidays: []domain.Holiday{{StartDate: "2026-12-25"}}}
	for _, tc := range []struct {
		name  string
		hours domain.BusinessHours
		t     time.Time
		want  bool
	}{
		{"Unset", domain.BusinessHours{}, at("2026-03-01 03:00"), true},
		{"WeekdayOpen", office, at("2026-03-02 09:00"), true},
		{"WeekdayBeforeOpen", office, at("2026-03-02 08:59"), false},
		{"WeekdayAtClose", office, at("2026-03-02 17:00"), false},
		{"Weekend", office, at("2026-03-07 12:00"), false},
		{"HolidayRange", office, at("2026-12-25 10:00"), false},
		{"HolidaySingle", office, at("2026-10-27 10:00"), false},
		{"AfterHoliday", office, at("2026-10-28 10:00"), true},
		{"SplitLunch", split, at("2026-03-02 12:30"), false},
		{"SplitAfternoon", split, at("2026-03-02 23:59"), true},
		{"SplitAcrossMidnight", split, at("2026-03-03 00:30"), true},
		{"SplitAfterNight", split, at("2026-03-03 02:00"), false},
		{"SpringForwardGapOpensAtJump", night, time.Date(2026, 3, 29, 1, 0, 0, 0, time.UTC), true}, // 03:00 CEST
		{"SpringForwardBeforeJump", night, time.Date(2026, 3, 29, 0, 59, 0, 0, time.UTC), false},
		{"SpringForwardClose", night, time.Date(2026, 3, 29, 2, 0, 0, 0, time.UTC), false}, // 04:00 CEST
		{"FallBackFirst0230Closes", early, time.Date(2026, 10, 25, 0, 29, 0, 0, time.UTC), true},
		{"FallBackClosedAtFirst0230", early, time.Date(2026, 10, 25, 0, 30, 0, 0, time.UTC), false},
		{"FallBackSecond0230Closed", early, time.Date(2026, 10, 25, 1, 30, 0, 0, time.UTC), false},
		{"NewYorkThursdayNightIsFridayUTC", ny, time.Date(2026, 12, 25, 4, 59, 0, 0, time.UTC), true}, // Thu 23:59 EST
		{"NewYorkHolidayFromLocalMidnight", ny, time.Date(2026, 12, 25, 5, 0, 0, 0, time.UTC), false}, // Fri 00:00 EST, Christmas
		{"NewYorkFridayOtherwiseOpen", ny, time.Date(2027, 1, 1, 5, 0, 0, 0, time.UTC), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			site := &domain.Site{BusinessHours: tc.hours}
			if got := site.OpenAt(tc.t); got != tc.want {
				t.Fatalf("OpenAt(%v) = %v, want %v", tc.t.In(loc), got, tc.want)
			}
		})
	}
}

func TestBusinessHoursNextChange(t *testing.T) {
	loc := berlin(t)
	office := domain.BusinessHours{TimeZone: "Europe/Berlin", Weekly: []domain.WeeklyInterval{
		{Day: 1, Open: "09:00", Close: "17:00"}, {Day: 1, Open: "17:00", Close: "18:00"}, {Day: 5, Open: "09:00", Close: "17:00"}},
		Holidays: []domain.Holiday{{StartDate: "2026-03-06"}}}
	for _, tc := range []struct {
		name  string
		hours domain.BusinessHours
		t     time.Time
		want  time.Time // zero: none
	}{
		{"Opens", office, time.Date(2026, 3, 2, 8, 0, 0, 0, loc), time.Date(2026, 3, 2, 9, 0, 0, 0, loc)},
		{"AdjacentIntervalsCloseOnce", office, time.Date(2026, 3, 2, 10, 0, 0, 0, loc), time.Date(2026, 3, 2, 18, 0, 0, 0, loc)},
		{"SkipsHolidayFriday", office, time.Date(2026, 3, 2, 19, 0, 0, 0, loc), time.Date(2026, 3, 9, 9, 0, 0, 0, loc)},
		{"SpringForwardOpensAtJump", domain.BusinessHours{TimeZone: "Europe/Berlin", Weekly: []domain.WeeklyInterval{{Day: 7, Open: "02:30", Close: "04:00"}}},
			time.Date(2026, 3, 28, 12, 0, 0, 0, time.UTC), time.Date(2026, 3, 29, 1, 0, 0, 0, time.UTC)},
		{"FallBackFirstOccurrence", domain.BusinessHours{TimeZone: "Europe/Berlin", Weekly: []domain.WeeklyInterval{{Day: 7, Open: "02:30", Close: "04:00"}}},
			time.Date(2026, 10, 24, 12, 0, 0, 0, time.UTC), time.Date(2026, 10, 25, 0, 30, 0, 0, time.UTC)},
		{"HolidayEndsAtLocalMidnight", domain.BusinessHours{TimeZone: "Europe/Berlin", Weekly: []domain.WeeklyInterval{{Day: 4, Open: "00:00", Close: "24:00"}},
			Holidays: []domain.Holiday{{StartDate: "2026-01-01"}}}, time.Date(2026, 1, 1, 12, 0, 0, 0, loc), time.Date(2026, 1, 8, 0, 0, 0, 0, loc)},
		{"NeverOpen", domain.BusinessHours{TimeZone: "Europe/Berlin"}, time.Date(2026, 1, 1, 12, 0, 0, 0, loc), time.Time{}},
		{"AlwaysOpenUnset", domain.BusinessHours{}, time.Date(2026, 1, 1, 12, 0, 0, 0, loc), time.Time{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			site := &domain.Site{BusinessHours: tc.hours}
			got, ok := site.NextChange(tc.t)
			if !got.Equal(tc.want) || ok == tc.want.IsZero() {
				t.Fatalf("NextChange(%v) = %v, %v, want %v", tc.t, got.In(loc), ok, tc.want.In(loc))
			}
		})
	}
}

func TestBusinessHoursValidation(t *testing.T) {
	e := newEnv(t, 0)
	for field, h := range map[string]domain.BusinessHours{
		"business_hours.time_zone":              {TimeZone: "Mars/Olympus"},
		"business_hours.weekly[0].open":         {TimeZone: "UTC", Weekly: []domain.WeeklyInterval{{Day: 1, Open: "9:00", Close: "17:00"}}},
		"business_hours.weekly[0].close":        {TimeZone: "UTC", Weekly: []domain.WeeklyInterval{{Day: 1, Open: "09:00", Close: "08:00"}}},
		"business_hours.weekly[0].day_of_week":  {TimeZone: "UTC", Weekly: []domain.WeeklyInterval{{Day: 8, Open: "09:00", Close: "10:00"}}},
		"business_hours.weekly[1]":              {TimeZone: "UTC", Weekly: []domain.WeeklyInterval{{Day: 1, Open: "09:00", Close: "12:00"}, {Day: 1, Open: "11:00", Close: "13:00"}}},
		"business_hours.holidays[0].start_date": {TimeZone: "UTC", Holidays: []domain.Holiday{{StartDate: "2026-02-30"}}},
		"business_hours.holidays[0].end_date":   {TimeZone: "UTC", Holidays: []domain.Holiday{{StartDate: "2026-02-03", EndDate: "2026-02-01"}}},
	} {
		t.Run(field, func(t *testing.T) {
			_, err := e.svc.CreateSite(ctx(t), domain.SiteSpec{Name: "x", BusinessHours: h})
			wantCode(t, err, domain.CodeInvalid)
			if !strings.Contains(err.Error(), field+":") {
				t.Fatalf("error %q does not name %s", err, field)
			}
		})
	}
	t.Run("OK", func(t *testing.T) {
		h := domain.BusinessHours{TimeZone: "Europe/Berlin", Weekly: []domain.WeeklyInterval{{Day: 1, Open: "09:00", Close: "12:00"}, {Day: 1, Open: "12:00", Close: "24:00"}},
			Holidays: []domain.Holiday{{StartDate: "2026-12-24", EndDate: "2026-12-26", Name: "Christmas"}}}
		site, err := e.svc.CreateSite(ctx(t), domain.SiteSpec{Name: "x", BusinessHours: h, OfflineMessage: domain.OfflineMessageSettings{MaxWaitSeconds: 120}})
		if err != nil {
			t.Fatal(err)
		}
		got, err := e.svc.GetSite(ctx(t), site.ID)
		if err != nil || len(got.BusinessHours.Weekly) != 2 || got.BusinessHours.Holidays[0].Name != "Christmas" || got.OfflineMessage.MaxWaitSeconds != 120 {
			t.Fatalf("GetSite = %+v, %v", got, err)
		}
		upd, err := e.svc.UpdateSite(ctx(t), &domain.Site{ID: site.ID, BusinessHours: domain.BusinessHours{TimeZone: "Asia/Tokyo"}}, []string{"business_hours.time_zone"})
		if err != nil || upd.BusinessHours.TimeZone != "Asia/Tokyo" || len(upd.BusinessHours.Weekly) != 2 {
			t.Fatalf("UpdateSite = %+v, %v", upd, err)
		}
	})
}
