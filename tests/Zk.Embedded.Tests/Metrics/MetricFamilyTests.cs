using System.Text;
using Zk.Embedded.Metrics;

namespace Zk.Embedded.Tests.Metrics;

/// <summary>The text one metric family renders, parsed back strictly.</summary>
public sealed class MetricFamilyTests
{
    private static PrometheusText Render(MetricFamily family)
    {
        var text = new StringBuilder();
        family.Write(text);
        return PrometheusText.Parse(text.ToString());
    }

    [Fact]
    public void A_summarys_quantiles_come_from_its_latest_1024_observations_and_count_and_sum_from_all()
    {
        var family = new MetricFamily("fsynctime", "help", MetricKind.Summary, 1000, [0.5, 0.99]);
        for (var i = 1; i <= 3000; i++)
        {
            // The first 1976 observations are huge; only the latest 1024 (1977..3000, in ms after the scale) count.
            family.Record(i <= 1976 ? 1e6 : i / 1000.0, []);
        }

        var text = Render(family);
        Assert.Equal(3000, text.Value("fsynctime", "summary", "fsynctime_count"));
        Assert.Equal(1977 + 511, text.Value("fsynctime", "summary", "fsynctime", "quantile=\"0.5\""));
        Assert.Equal(1977 + 1013, text.Value("fsynctime", "summary", "fsynctime", "quantile=\"0.99\""));
    }

    [Fact]
    public void Label_values_are_escaped_and_counters_add_per_label_set()
    {
        var family = new MetricFamily("zk_requests_total", "Requests served", MetricKind.Counter, 1, []);
        family.Record(1, [new("op", "a\"b\\c\nd")]);
        family.Record(2, [new("op", "a\"b\\c\nd")]);
        family.Record(5, [new("op", "create")]);

        var text = Render(family);
        Assert.Equal(3, text.Value("zk_requests_total", "counter", "zk_requests_total", "op=\"a\\\"b\\\\c\\nd\""));
        Assert.Equal(5, text.Value("zk_requests_total", "counter", "zk_requests_total", "op=\"create\""));
    }

    [Fact]
    public void A_ZooKeeper_named_counter_shows_zero_before_its_first_increase()
    {
        var text = Render(new MetricFamily("commit_count", "Txns committed", MetricKind.Counter, 1, [], shownEmpty: true));
        Assert.Equal(0, text.Value("commit_count", "counter", "commit_count"));
    }
}
