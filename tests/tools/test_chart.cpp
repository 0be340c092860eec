// SPDX-License-Identifier: MIT
// The "Accuracy vs Loss" chart: rendered PNGs decoded again with cairo and their pixels checked
// (size, not blank, blue accuracy line above the red loss line, gaps for NaN), and the errors.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>
#include <vector>

#include <unistd.h>

#include <ctml/run/chart.hpp>

namespace {

struct pixel {
    int r, g, b;
};

struct decoded {
    int width = 0, height = 0;
    std::vector<pixel> pixels; // row-major

    const pixel& at(int x, int y) const { return pixels[static_cast<std::size_t>(y * width + x)]; }
};

struct reader {
    const std::string* bytes;
    std::size_t pos = 0;
};

cairo_status_t read_png(void* closure, unsigned char* data, unsigned int length) {
    auto* r = static_cast<reader*>(closure);
    if (r->pos + length > r->bytes->size()) {
        return CAIRO_STATUS_READ_ERROR;
    }
    std::copy_n(r->bytes->data() + r->pos, length, reinterpret_cast<char*>(data));
    r->pos += length;
    return CAIRO_STATUS_SUCCESS;
}

// Decodes with cairo (a PNG reader independent of how the bytes were produced: a wrong
// signature, CRC or truncated stream fails here).
decoded decode(const std::string& png) {
    reader r{&png};
    cairo_surface_t* s = cairo_image_surface_create_from_png_stream(read_png, &r);
    REQUIRE(cairo_surface_status(s) == CAIRO_STATUS_SUCCESS);
    decoded d;
    d.width = cairo_image_surface_get_width(s);
    d.height = cairo_image_surface_get_height(s);
    const int stride = cairo_image_surface_get_stride(s);
    const unsigned char* data = cairo_image_surface_get_data(s);
    for (int y = 0; y < d.height; ++y) {
        for (int x = 0; x < d.width; ++x) {
            std::uint32_t v;
            std::memcpy(&v, data + y * stride + 4 * x, 4);
            d.pixels.push_back({int(v >> 16 & 0xff), int(v >> 8 & 0xff), int(v & 0xff)});
        }
    }
    cairo_surface_destroy(s);
    return d;
}

bool is_blue(const pixel& p) { return p.b > 200 && p.r < 170 && p.g < 170; }
bool is_red(const pixel& p) { return p.r > 200 && p.g < 170 && p.b < 170; }

// A Keras-MNIST-like history: validation accuracy rising from 0.965 to 0.98, loss around 0.08.
void keras_history(std::size_t epochs, std::vector<double>& acc, std::vector<double>& loss) {
    for (std::size_t e = 1; e <= epochs; ++e) {
        const double t = static_cast<double>(e);
        acc.push_back(0.965 + 0.015 * (1 - std::exp(-t / 4)) + 0.002 * std::sin(t * 1.7));
        loss.push_back(0.115 - 0.04 * (1 - std::exp(-t / 3)) + 0.00125 * t);
    }
}

struct census {
    std::size_t non_white = 0, blue = 0, red = 0;
    double blue_mean_y = 0, red_mean_y = 0;
};

census count(const decoded& d, int x_from = 0, int x_to = -1) {
    census c;
    if (x_to < 0) {
        x_to = d.width;
    }
    for (int y = 0; y < d.height; ++y) {
        for (int x = x_from; x < x_to; ++x) {
            const pixel& p = d.at(x, y);
            c.non_white += (p.r < 250 || p.g < 250 || p.b < 250) ? 1 : 0;
            if (is_blue(p)) {
                ++c.blue;
                c.blue_mean_y += y;
            }
            if (is_red(p)) {
                ++c.red;
                c.red_mean_y += y;
            }
        }
    }
    if (c.blue) {
        c.blue_mean_y /= static_cast<double>(c.blue);
    }
    if (c.red) {
        c.red_mean_y /= static_cast<double>(c.red);
    }
    return c;
}

} // namespace

TEST_CASE("the Keras figure: title from the epochs, solid blue accuracy, dashed red loss") {
    std::vector<double> acc, loss;
    keras_history(20, acc, loss);
    const ctml::run::line_chart chart = ctml::run::accuracy_vs_loss_chart(acc, loss);
    CHECK(chart.title == "MNIST with Keras MLP (20 epochs)");
    CHECK(chart.width_in == 6);
    CHECK(chart.height_in == 3);
    REQUIRE(chart.series.size() == 2);
    CHECK(chart.series[0].label == "Accuracy");
    CHECK(chart.series[0].style == ctml::run::line_style::solid);
    CHECK(chart.series[1].label == "Loss");
    CHECK(chart.series[1].style == ctml::run::line_style::dashed);
    CHECK(ctml::run::keras_chart_title(1) == "MNIST with Keras MLP (1 epoch)");
}

TEST_CASE("the PNG is 600 x 300 at 100 dpi, drawn, with the accuracy line above the loss line") {
    std::vector<double> acc, loss;
    keras_history(20, acc, loss);
    const std::string png = ctml::run::render_png(ctml::run::accuracy_vs_loss_chart(acc, loss));
    REQUIRE(png.size() > 8);
    CHECK(png.compare(0, 8, "\x89PNG\r\n\x1a\n") == 0);
    const decoded d = decode(png);
    CHECK(d.width == 600);
    CHECK(d.height == 300);
    const census c = count(d);
    CHECK(c.non_white > 600 * 300 / 50); // axes, grid, text and two thick lines
    CHECK(c.non_white < 600 * 300 / 2);  // a white background, not a filled box
    CHECK(c.blue > 1000);
    CHECK(c.red > 500);
    // Accuracy (~0.97) plots near the top, loss (~0.09) near the bottom: y grows downwards.
    CHECK(c.blue_mean_y + 100 < c.red_mean_y);
    // The loss line is dashed: some column in the middle of the plot crosses no red pixel at the
    // loss line's height while its neighbours do (the solid accuracy line has no such gap).
    int red_columns = 0, gap_columns = 0;
    for (int x = 150; x < 450; ++x) {
        bool red = false;
        for (int y = 150; y < d.height; ++y) {
            red = red || is_red(d.at(x, y));
        }
        (red ? red_columns : gap_columns) += 1;
    }
    CHECK(red_columns > 100);
    CHECK(gap_columns > 20);
}

TEST_CASE("the resolution scales the image; non-finite values leave gaps, not a broken scale") {
    std::vector<double> acc, loss;
    keras_history(5, acc, loss);
    loss[2] = std::numeric_limits<double>::quiet_NaN();
    loss[3] = std::numeric_limits<double>::infinity();
    ctml::run::line_chart chart = ctml::run::accuracy_vs_loss_chart(acc, loss);
    chart.dpi = 200;
    const decoded d = decode(ctml::run::render_png(chart));
    CHECK(d.width == 1200);
    CHECK(d.height == 600);
    const census c = count(d);
    CHECK(c.blue > 1000);
    CHECK(c.red > 100); // epochs 1-2 and 5 still drawn

    std::vector<double> nan_only(3, std::numeric_limits<double>::quiet_NaN());
    const decoded empty = decode(ctml::run::render_png(
        ctml::run::accuracy_vs_loss_chart(nan_only, nan_only)));
    CHECK(count(empty).blue < 200); // only the legend sample
}

TEST_CASE("bad charts are refused with messages naming what is wrong") {
    std::vector<double> acc{0.9, 0.95}, loss{0.3};
    CHECK_THROWS_WITH_AS(ctml::run::accuracy_vs_loss_chart(acc, loss),
                         doctest::Contains("2 accuracy values but 1 loss values"),
                         ctml::data_error);
    CHECK_THROWS_WITH_AS(ctml::run::accuracy_vs_loss_chart({}, {}),
                         doctest::Contains("no epoch to plot"), ctml::data_error);
    loss.push_back(0.2);
    ctml::run::line_chart chart = ctml::run::accuracy_vs_loss_chart(acc, loss);
    chart.dpi = 0;
    CHECK_THROWS_AS(ctml::run::render_png(chart), ctml::config_error);
    chart.dpi = 1e6;
    CHECK_THROWS_WITH_AS(ctml::run::render_png(chart), doctest::Contains("16384"),
                         ctml::config_error);
    chart.dpi = 100;
    chart.title = "bad \xff\xfe utf-8";
    CHECK_THROWS_WITH_AS(ctml::run::render_png(chart), doctest::Contains("render_png"),
                         ctml::error);
}

TEST_CASE("save_png writes the whole file or names the path it could not write") {
    const auto dir = std::filesystem::temp_directory_path() /
                     ("ctml_test_chart_" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    std::vector<double> acc{0.9, 0.95, 0.97}, loss{0.3, 0.2, 0.1};
    const auto chart = ctml::run::accuracy_vs_loss_chart(acc, loss);
    ctml::run::save_png(chart, dir / "chart.png");
    std::ifstream in(dir / "chart.png", std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    CHECK(bytes == ctml::run::render_png(chart)); // deterministic
    CHECK(decode(bytes).width == 600);
    CHECK_THROWS_WITH_AS(ctml::run::save_png(chart, dir / "missing" / "chart.png"),
                         doctest::Contains("missing/chart.png"), ctml::file_error);
    std::filesystem::remove_all(dir);
}
