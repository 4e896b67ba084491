// An invoice service: each POST carries an order as JSON, which the handler
// decodes, totals and renders to HTML through a template parsed once at
// start. Nothing outlives the request. A loopback client drives it at 250
// orders a second over one kept-alive connection.
package main

import (
	"bytes"
	"encoding/json"
	"expvar"
	"fmt"
	"html/template"
	"io"
	"log"
	"net"
	"net/http"
	"time"
)

var requests = expvar.NewInt("requests")

type line struct {
	SKU   string `json:"sku"`
	Name  string `json:"name"`
	Qty   int    `json:"qty"`
	Cents int    `json:"cents"`
}

type order struct {
	ID       string `json:"id"`
	Customer string `json:"customer"`
	Lines    []line `json:"lines"`
}

var invoice = template.Must(template.New("invoice").Parse(`<h1>Invoice {{.ID}}</h1>
<p>Bill to: {{.Customer}}</p>
<table>{{range .Lines}}
<tr><td>{{.SKU}}</td><td>{{.Name}}</td><td>{{.Qty}}</td><td>{{.Cents}}</td></tr>{{end}}
</table>
<p>Total: {{.Total}}</p>
`))

func handleInvoice(w http.ResponseWriter, r *http.Request) {
	requests.Add(1)
	var o order
	if err := json.NewDecoder(r.Body).Decode(&o); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	total := 0
	for _, l := range o.Lines {
		total += l.Qty * l.Cents
	}
	var buf bytes.Buffer
	err := invoice.Execute(&buf, struct {
		order
		Total string
	}{o, fmt.Sprintf("%d.%02d", total/100, total%100)})
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Write(buf.Bytes())
}

func makeOrder(n int) []byte {
	o := order{ID: fmt.Sprintf("INV-%08d", n), Customer: fmt.Sprintf("Customer & Sons #%d", n%997)}
	for i := range 40 {
		o.Lines = append(o.Lines, line{
			SKU:   fmt.Sprintf("SKU-%05d", (n+i*31)%50000),
			Name:  fmt.Sprintf("Widget <%d> deluxe", i),
			Qty:   1 + (n+i)%5,
			Cents: 199 + (n*i)%9800,
		})
	}
	b, err := json.Marshal(o)
	if err != nil {
		log.Fatal(err)
	}
	return b
}

func main() {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /invoice", handleInvoice)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	log.Printf("invoices on %s", ln.Addr())

	url := "http://" + ln.Addr().String() + "/invoice"
	client := &http.Client{Timeout: 2 * time.Second}
	tick := time.NewTicker(4 * time.Millisecond)
	defer tick.Stop()
	for n := 1; ; n++ {
		<-tick.C
		resp, err := client.Post(url, "application/json", bytes.NewReader(makeOrder(n)))
		if err != nil {
			continue
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
}
