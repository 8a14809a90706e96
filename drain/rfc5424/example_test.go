package rfc5424_test

import (
	"fmt"
	"strings"
	"time"

	"github.com/sluicelog/sluice/drain/rfc5424"
	"github.com/sluicelog/sluice/envelope"
)

// A log line of instance 0 of an application, framed for syslog over TCP.
func ExampleFormatter_AppendOctetCounted() {
	f, err := rfc5424.New("cell-7")
	if err != nil {
		panic(err)
	}
	e := envelope.NewLog("app-guid", []byte("hello"),
		envelope.WithTimestamp(time.Date(2024, 5, 1, 12, 0, 0, 123456000, time.UTC)),
		envelope.WithInstanceID("0"), envelope.WithTag("source_type", "APP/PROC/WEB"))
	b, n, err := f.AppendOctetCounted(nil, e)
	fmt.Printf("%d %v %q\n", n, err, b)
	// Output: 1 <nil> "120 <14>1 2024-05-01T12:00:00.123456+00:00 cell-7 app-guid [APP/PROC/WEB/0] - [tags@47450 source_type=\"APP/PROC/WEB\"] hello\n"
}

// A gauge with two metrics becomes two messages.
func ExampleFormatter_Append() {
	var f rfc5424.Formatter
	e := envelope.NewGauge("app-guid", []envelope.Metric{{Name: "memory", Value: 5423, Unit: "bytes"}, {Name: "cpu", Value: 0.23, Unit: "percentage"}},
		envelope.WithTimestamp(time.Unix(1714564800, 0)), envelope.WithInstanceID("1"))
	b, _, _ := f.Append(nil, e)
	for _, m := range strings.SplitAfter(string(b), "\n") {
		fmt.Printf("%q\n", m)
	}
	// Output:
	// "<14>1 2024-05-01T12:00:00+00:00 - app-guid [1] - [gauge@47450 name=\"cpu\" value=\"0.23\" unit=\"percentage\"] \n"
	// "<14>1 2024-05-01T12:00:00+00:00 - app-guid [1] - [gauge@47450 name=\"memory\" value=\"5423\" unit=\"bytes\"] \n"
	// ""
}
