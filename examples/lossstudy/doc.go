// Command lossstudy offers increasing rates to a router with one fast and
// one slow subscriber and records, for every rate, what was delivered and
// where the rest was dropped, as a CSV file and an SVG chart: the picture
// an operator needs to see where drops start and at which hop.
//
//	go run ./examples/lossstudy -rates 5000,20000,50000,100000,200000 -out /tmp/study
package main
