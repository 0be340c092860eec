// SPDX-License-Identifier: MIT
// Line charts rendered to PNG with cairo: the "Accuracy vs Loss" figure the Keras reference
// trainer logs into its run, and any other per-epoch series. Opt-in: this header needs cairo
// (Debian libcairo2-dev); link the CMake target ctml::chart, which adds it. Nothing else in ctml
// includes it, so a trainer that only trains never pays for it.
#pragma once
#include <cairo/cairo.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstddef>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <unistd.h>

#include "ctml/core/error.hpp"
#include "ctml/io/file.hpp"

namespace ctml::run {

/// @brief A colour with opacity, each channel in [0, 1].
struct rgba {
    double r = 0, g = 0, b = 0, a = 1;
};

/// @brief How a series' line is stroked.
enum class line_style { solid, dashed };

/// @brief One line of a chart: y values at x = first_x, first_x + 1, ... Non-finite values
/// (NaN, ±inf, as a diverged loss gives) leave a gap in the line instead of wrecking the scale.
struct chart_series {
    std::string label;
    std::vector<double> values;
    rgba color{0, 0, 1, 1};
    line_style style = line_style::solid;
    double line_width_pt = 4; ///< points (1/72 inch), as matplotlib's lw
};

/// @brief A line chart: size in inches at a resolution, a title, series sharing one y axis,
/// x ticks at whole numbers (epochs), a grid and a legend.
struct line_chart {
    std::string title;
    std::vector<chart_series> series;
    double width_in = 6;
    double height_in = 3;
    double dpi = 100;
    double first_x = 1;            ///< x of every series' first value (epochs count from 1)
    std::string x_label = "Epoch"; ///< empty: none
    bool grid = true;
    bool legend = true;
    double title_pt = 14; ///< the reference's fontsize=14
    double legend_pt = 12;
    double tick_pt = 10;
};

/// @brief The title the Keras reference gives its figure: "MNIST with Keras MLP (20 epochs)".
inline std::string keras_chart_title(std::size_t epochs) {
    return "MNIST with Keras MLP (" + std::to_string(epochs) + (epochs == 1 ? " epoch)" : " epochs)");
}

/// @brief The Keras reference's "Accuracy vs Loss" figure (6x3 in, accuracy a solid blue line,
/// loss a dashed red one, both 4 pt wide at half opacity as its `plt.plot(..., lw=4, alpha=0.5)`,
/// legend and grid), titled from the number of epochs. ctml::data_error if there is no epoch or
/// the two series differ in length.
inline line_chart accuracy_vs_loss_chart(std::span<const double> accuracy,
                                         std::span<const double> loss) {
    if (accuracy.empty()) {
        throw data_error("accuracy_vs_loss_chart: no epoch to plot (the accuracy series is empty)");
    }
    if (accuracy.size() != loss.size()) {
        throw data_error("accuracy_vs_loss_chart: " + std::to_string(accuracy.size()) +
                         " accuracy values but " + std::to_string(loss.size()) +
                         " loss values; expected one of each per epoch");
    }
    line_chart c;
    c.title = keras_chart_title(accuracy.size());
    c.series.push_back({"Accuracy", {accuracy.begin(), accuracy.end()}, {0, 0, 1, 0.5},
                        line_style::solid, 4});
    c.series.push_back({"Loss", {loss.begin(), loss.end()}, {1, 0, 0, 0.5}, line_style::dashed, 4});
    return c;
}

namespace detail {

struct cairo_deleter {
    void operator()(cairo_surface_t* s) const noexcept { cairo_surface_destroy(s); }
    void operator()(cairo_t* c) const noexcept { cairo_destroy(c); }
};
using surface_ptr = std::unique_ptr<cairo_surface_t, cairo_deleter>;
using context_ptr = std::unique_ptr<cairo_t, cairo_deleter>;

/// A step of 1, 2, 2.5 or 5 times a power of ten giving at most `max_ticks` intervals.
inline double nice_step(double span, int max_ticks) {
    const double raw = span / max_ticks;
    const double mag = std::pow(10.0, std::floor(std::log10(raw)));
    for (double m : {1.0, 2.0, 2.5, 5.0, 10.0}) {
        if (m * mag >= raw * (1 - 1e-9)) {
            return m * mag;
        }
    }
    return 10 * mag;
}

/// Digits after the point that show every multiple of `step` exactly (0.25 needs 2).
inline int tick_decimals(double step) {
    int d = 0;
    while (d < 10 && std::abs(step * std::pow(10.0, d) - std::round(step * std::pow(10.0, d))) >
                         1e-6 * step * std::pow(10.0, d)) {
        ++d;
    }
    return d;
}

struct axis_range {
    double lo = 0, hi = 1;
};

/// The y range of the finite values, padded by 5% on each side as matplotlib does.
inline axis_range value_range(const std::vector<chart_series>& series) {
    double lo = std::numeric_limits<double>::infinity();
    double hi = -lo;
    for (const auto& s : series) {
        for (double v : s.values) {
            if (std::isfinite(v)) {
                lo = std::min(lo, v);
                hi = std::max(hi, v);
            }
        }
    }
    if (!(lo <= hi)) {
        return {0, 1};
    }
    if (hi - lo <= 1e-12 * std::max(1.0, std::abs(hi))) {
        const double half = std::max(0.5 * std::abs(hi) * 0.1, 0.5);
        return {lo - half, hi + half};
    }
    const double pad = 0.05 * (hi - lo);
    return {lo - pad, hi + pad};
}

inline std::string format_tick(double v, int decimals) {
    if (std::abs(v) < 1e-12) {
        v = 0; // no "-0.00"
    }
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
    return buf;
}

/// Drawing state: the context, pixels per point, and the plot area in pixels.
struct canvas {
    cairo_t* cr;
    double px_per_pt;
    double left = 0, top = 0, right = 0, bottom = 0;
    axis_range x, y;

    double to_px_x(double v) const { return left + (v - x.lo) / (x.hi - x.lo) * (right - left); }
    double to_px_y(double v) const { return bottom - (v - y.lo) / (y.hi - y.lo) * (bottom - top); }

    void font(double pt, bool bold = false) const {
        cairo_select_font_face(cr, "DejaVu Sans", CAIRO_FONT_SLANT_NORMAL,
                               bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL);
        cairo_set_font_size(cr, pt * px_per_pt);
    }
    double text_width(const std::string& s) const {
        cairo_text_extents_t e;
        cairo_text_extents(cr, s.c_str(), &e);
        return e.x_advance;
    }
    double font_ascent() const {
        cairo_font_extents_t fe;
        cairo_font_extents(cr, &fe);
        return fe.ascent;
    }
    double font_height() const {
        cairo_font_extents_t fe;
        cairo_font_extents(cr, &fe);
        return fe.ascent + fe.descent;
    }
    /// Text whose anchor (x_align 0 left, 0.5 centre, 1 right) sits at x, vertically centred on y.
    void text(const std::string& s, double x_px, double y_px, double x_align) const {
        cairo_font_extents_t fe;
        cairo_font_extents(cr, &fe);
        cairo_move_to(cr, x_px - x_align * text_width(s),
                      y_px + (fe.ascent - fe.descent) / 2);
        cairo_show_text(cr, s.c_str());
    }
    void stroke_style(const chart_series& s) const {
        cairo_set_source_rgba(cr, s.color.r, s.color.g, s.color.b, s.color.a);
        const double w = s.line_width_pt * px_per_pt;
        cairo_set_line_width(cr, w);
        if (s.style == line_style::dashed) {
            const double dash[] = {3.7 * w, 1.6 * w}; // matplotlib's '--' pattern, scaled by lw
            cairo_set_dash(cr, dash, 2, 0);
            cairo_set_line_cap(cr, CAIRO_LINE_CAP_BUTT);
        } else {
            cairo_set_dash(cr, nullptr, 0, 0);
            cairo_set_line_cap(cr, CAIRO_LINE_CAP_ROUND);
        }
        cairo_set_line_join(cr, CAIRO_LINE_JOIN_ROUND);
    }
};

inline std::size_t longest_series(const line_chart& c) {
    std::size_t n = 0;
    for (const auto& s : c.series) {
        n = std::max(n, s.values.size());
    }
    return n;
}

inline void draw_series(const canvas& k, const line_chart& c) {
    for (const auto& s : c.series) {
        k.stroke_style(s);
        bool pen_down = false;
        for (std::size_t i = 0; i < s.values.size(); ++i) {
            const double v = s.values[i];
            if (!std::isfinite(v)) {
                pen_down = false;
                continue;
            }
            const double px = k.to_px_x(c.first_x + static_cast<double>(i));
            const double py = k.to_px_y(v);
            if (pen_down) {
                cairo_line_to(k.cr, px, py);
            } else {
                cairo_move_to(k.cr, px, py);
                pen_down = true;
                // A lone point still shows: a zero-length segment with round caps is a dot.
                cairo_line_to(k.cr, px, py);
            }
        }
        cairo_stroke(k.cr);
    }
    cairo_set_dash(k.cr, nullptr, 0, 0);
}

/// How many of the series' points (and points along their segments) fall in the box: the
/// legend goes where it hides the least, as matplotlib's loc="best".
inline std::size_t points_hidden(const canvas& k, const line_chart& c, double x0, double y0,
                                 double x1, double y1) {
    std::size_t hidden = 0;
    for (const auto& s : c.series) {
        for (std::size_t i = 0; i < s.values.size(); ++i) {
            const bool last = i + 1 == s.values.size();
            const double a = s.values[i];
            const double b = last ? a : s.values[i + 1];
            if (!std::isfinite(a) || !std::isfinite(b)) {
                continue;
            }
            for (int t = 0; t < (last ? 1 : 8); ++t) {
                const double f = t / 8.0;
                const double px = k.to_px_x(c.first_x + static_cast<double>(i) + f);
                const double py = k.to_px_y(a + f * (b - a));
                hidden += (px >= x0 && px <= x1 && py >= y0 && py <= y1) ? 1 : 0;
            }
        }
    }
    return hidden;
}

inline void draw_legend(const canvas& k, const line_chart& c) {
    std::vector<const chart_series*> shown;
    for (const auto& s : c.series) {
        if (!s.label.empty()) {
            shown.push_back(&s);
        }
    }
    if (shown.empty()) {
        return;
    }
    k.font(c.legend_pt);
    const double row = k.font_height() * 1.25;
    const double sample = 2.0 * c.legend_pt * k.px_per_pt; // matplotlib: 2 font sizes long
    const double pad = 0.4 * c.legend_pt * k.px_per_pt;
    double label_w = 0;
    for (const auto* s : shown) {
        label_w = std::max(label_w, k.text_width(s->label));
    }
    const double w = pad + sample + pad + label_w + pad;
    const double h = pad + row * static_cast<double>(shown.size()) + pad * 0.5;
    const double m = 0.5 * c.legend_pt * k.px_per_pt; // gap to the axes
    // Candidates in matplotlib's order of preference: upper right, upper left, lower left,
    // lower right, right, center left, center right, lower center, upper center, center.
    const double lx = k.left + m, rx = k.right - m - w, cx = (k.left + k.right - w) / 2;
    const double ty = k.top + m, by = k.bottom - m - h, cy = (k.top + k.bottom - h) / 2;
    const double cand[][2] = {{rx, ty}, {lx, ty}, {lx, by}, {rx, by}, {rx, cy},
                              {lx, cy}, {rx, cy}, {cx, by}, {cx, ty}, {cx, cy}};
    double bx = rx, byy = ty;
    std::size_t best = std::numeric_limits<std::size_t>::max();
    for (const auto& p : cand) {
        const std::size_t n = points_hidden(k, c, p[0], p[1], p[0] + w, p[1] + h);
        if (n < best) {
            best = n;
            bx = p[0];
            byy = p[1];
        }
    }
    cairo_rectangle(k.cr, bx, byy, w, h);
    cairo_set_source_rgba(k.cr, 1, 1, 1, 0.8);
    cairo_fill_preserve(k.cr);
    cairo_set_source_rgb(k.cr, 0.8, 0.8, 0.8);
    cairo_set_line_width(k.cr, 1);
    cairo_stroke(k.cr);
    for (std::size_t i = 0; i < shown.size(); ++i) {
        const double yy = byy + pad + row * (static_cast<double>(i) + 0.5);
        k.stroke_style(*shown[i]);
        cairo_move_to(k.cr, bx + pad, yy);
        cairo_line_to(k.cr, bx + pad + sample, yy);
        cairo_stroke(k.cr);
        cairo_set_dash(k.cr, nullptr, 0, 0);
        cairo_set_source_rgb(k.cr, 0, 0, 0);
        k.text(shown[i]->label, bx + pad + sample + pad, yy, 0);
    }
}

inline void check_chart(const line_chart& c) {
    const auto bad = [](const std::string& what) { throw config_error("line_chart: " + what); };
    if (!(c.dpi > 0) || !(c.width_in > 0) || !(c.height_in > 0)) {
        bad("width_in, height_in and dpi must be positive");
    }
    if (c.width_in * c.dpi > 16384 || c.height_in * c.dpi > 16384) {
        bad("at most 16384 pixels a side (width_in * dpi, height_in * dpi)");
    }
    if (c.width_in * c.dpi < 100 || c.height_in * c.dpi < 60) {
        bad("at least 100 x 60 pixels (no room for axes below that)");
    }
    for (const auto& s : c.series) {
        if (!(s.line_width_pt > 0) || s.line_width_pt > 72) {
            bad("series \"" + s.label + "\": line_width_pt must be in (0, 72]");
        }
    }
}

inline void draw_chart(cairo_t* cr, const line_chart& c, double width_px, double height_px) {
    canvas k{cr, c.dpi / 72.0, 0, 0, 0, 0, {}, {}};
    cairo_set_source_rgb(cr, 1, 1, 1);
    cairo_paint(cr);

    const std::size_t n = longest_series(c);
    const double x_first = c.first_x;
    const double x_last = c.first_x + static_cast<double>(n > 0 ? n - 1 : 0);
    const double x_span = std::max(x_last - x_first, 1.0);
    k.x = {x_first - 0.05 * x_span, x_last + 0.05 * x_span};
    k.y = value_range(c.series);
    const double y_step = nice_step(k.y.hi - k.y.lo, 6);
    const double x_step = std::max(1.0, nice_step(x_span, 10));
    const int y_dec = tick_decimals(y_step);

    std::vector<double> y_ticks, x_ticks;
    for (double v = std::ceil(k.y.lo / y_step - 1e-9) * y_step; v <= k.y.hi + 1e-9 * y_step;
         v += y_step) {
        y_ticks.push_back(v);
    }
    for (double v = std::ceil(k.x.lo / x_step - 1e-9) * x_step; v <= k.x.hi + 1e-9;
         v += x_step) {
        x_ticks.push_back(v);
    }

    // Margins from what must fit: title above, tick labels left and below, x label below.
    const double tick_len = 3.5 * k.px_per_pt;
    const double gap = 3.5 * k.px_per_pt;
    k.font(c.tick_pt);
    double y_label_w = 0;
    for (double v : y_ticks) {
        y_label_w = std::max(y_label_w, k.text_width(format_tick(v, y_dec)));
    }
    const double tick_h = k.font_height();
    k.font(c.title_pt);
    const double title_h = c.title.empty() ? 0 : k.font_height();
    k.left = std::ceil(gap + y_label_w + gap + tick_len);
    k.right = std::floor(width_px - 2.5 * gap - 0.5 * k.text_width("0"));
    k.top = std::ceil(gap + title_h + gap);
    k.bottom = std::floor(height_px - gap - tick_h - gap - tick_len -
                          (c.x_label.empty() ? 0 : tick_h + gap));

    if (c.grid) {
        cairo_set_source_rgb(cr, 0.69, 0.69, 0.69); // matplotlib's grid colour #b0b0b0
        cairo_set_line_width(cr, 0.8 * k.px_per_pt);
        for (double v : y_ticks) {
            const double py = std::round(k.to_px_y(v)) + 0.5;
            cairo_move_to(cr, k.left, py);
            cairo_line_to(cr, k.right, py);
        }
        for (double v : x_ticks) {
            const double px = std::round(k.to_px_x(v)) + 0.5;
            cairo_move_to(cr, px, k.top);
            cairo_line_to(cr, px, k.bottom);
        }
        cairo_stroke(cr);
    }

    cairo_save(cr);
    cairo_rectangle(cr, k.left, k.top, k.right - k.left, k.bottom - k.top);
    cairo_clip(cr);
    draw_series(k, c);
    cairo_restore(cr);

    // Frame, ticks and their labels.
    cairo_set_source_rgb(cr, 0, 0, 0);
    cairo_set_line_width(cr, 0.8 * k.px_per_pt);
    cairo_rectangle(cr, k.left + 0.5, k.top + 0.5, k.right - k.left, k.bottom - k.top);
    for (double v : y_ticks) {
        const double py = std::round(k.to_px_y(v)) + 0.5;
        cairo_move_to(cr, k.left - tick_len, py);
        cairo_line_to(cr, k.left, py);
    }
    for (double v : x_ticks) {
        const double px = std::round(k.to_px_x(v)) + 0.5;
        cairo_move_to(cr, px, k.bottom);
        cairo_line_to(cr, px, k.bottom + tick_len);
    }
    cairo_stroke(cr);
    k.font(c.tick_pt);
    for (double v : y_ticks) {
        k.text(format_tick(v, y_dec), k.left - tick_len - gap, std::round(k.to_px_y(v)) + 0.5, 1);
    }
    const double x_labels_y = k.bottom + tick_len + gap + tick_h / 2;
    for (double v : x_ticks) {
        k.text(format_tick(v, 0), std::round(k.to_px_x(v)) + 0.5, x_labels_y, 0.5);
    }
    if (!c.x_label.empty()) {
        k.text(c.x_label, (k.left + k.right) / 2, x_labels_y + tick_h / 2 + gap + tick_h / 2, 0.5);
    }
    if (!c.title.empty()) {
        k.font(c.title_pt);
        k.text(c.title, (k.left + k.right) / 2, gap + title_h / 2, 0.5);
    }
    if (c.legend) {
        draw_legend(k, c);
    }
}

inline cairo_status_t append_png(void* closure, const unsigned char* data, unsigned int length) {
    static_cast<std::string*>(closure)->append(reinterpret_cast<const char*>(data), length);
    return CAIRO_STATUS_SUCCESS;
}

} // namespace detail

/// @brief The chart as PNG bytes (width_in * dpi by height_in * dpi pixels, RGB with alpha,
/// white background). ctml::config_error for an impossible size; ctml::error if cairo fails
/// (its status text in the message, e.g. a title that is not valid UTF-8).
inline std::string render_png(const line_chart& chart) {
    detail::check_chart(chart);
    const int w = static_cast<int>(std::lround(chart.width_in * chart.dpi));
    const int h = static_cast<int>(std::lround(chart.height_in * chart.dpi));
    detail::surface_ptr surface(cairo_image_surface_create(CAIRO_FORMAT_ARGB32, w, h));
    const auto check = [](cairo_status_t s, const char* what) {
        if (s != CAIRO_STATUS_SUCCESS) {
            throw error(std::string("render_png: ") + what + ": " + cairo_status_to_string(s));
        }
    };
    check(cairo_surface_status(surface.get()), "creating the image");
    detail::context_ptr cr(cairo_create(surface.get()));
    check(cairo_status(cr.get()), "creating the drawing context");
    detail::draw_chart(cr.get(), chart, w, h);
    check(cairo_status(cr.get()), "drawing the chart");
    cairo_surface_flush(surface.get());
    std::string png;
    check(cairo_surface_write_to_png_stream(surface.get(), detail::append_png, &png),
          "encoding the PNG");
    return png;
}

/// @brief Renders the chart and writes it to `path` atomically (a reader sees the old file or
/// the whole new one); ctml::file_error names the path if it cannot be written.
inline void save_png(const line_chart& chart, const std::filesystem::path& path) {
    io::write_file_atomic(path, render_png(chart));
}

/// @brief The image policy of ctml::run::keras_report (ctml/run/report.hpp): renders
/// accuracy_vs_loss_chart from the epochs' validation accuracy and loss to a temporary PNG,
/// hands it to the run's log_image (which copies it into the run), and removes the temporary.
struct accuracy_vs_loss_image {
    std::string name = "Accuracy vs Loss"; ///< the image's name in the run
    double dpi = 100;                      ///< 6 x 3 inches: 600 x 300 pixels at 100 dpi

    template <class Run>
    void operator()(Run& run, std::span<const double> accuracy, std::span<const double> loss) const {
        line_chart chart = accuracy_vs_loss_chart(accuracy, loss);
        chart.dpi = dpi;
        static std::atomic<unsigned> counter{0};
        const std::filesystem::path file =
            std::filesystem::temp_directory_path() /
            ("ctml-chart-" + std::to_string(::getpid()) + "-" + std::to_string(counter++) + ".png");
        save_png(chart, file);
        struct remover {
            const std::filesystem::path& f;
            ~remover() {
                std::error_code ignored;
                std::filesystem::remove(f, ignored);
            }
        } cleanup{file};
        run.log_image(name, file);
    }
};

} // namespace ctml::run
