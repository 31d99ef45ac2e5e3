using ScottPlot;

namespace EdgeSelector.Cli.Charts;

/// <summary>
/// What every edgesel chart shares: size, font, colours, axes fitted to the data, category ticks and saving. Charts
/// are drawn with ScottPlot 5 (SkiaSharp underneath, native assets for Linux/macOS/Windows in the package), not by
/// hand: it measures text, so tick labels, legends and titles are laid out without overlapping or clipping.
/// </summary>
internal static class ChartStyle
{
    public const int Width = 960;
    public const int Height = 540;

    public static readonly Color Estimate = Color.FromHex("#4c78a8");
    public static readonly Color Truth = Color.FromHex("#e45756");
    public static readonly Color Oracle = Color.FromHex("#54a24b");
    public static readonly Color Neutral = Color.FromHex("#888888");
    public static readonly Color Accent = Color.FromHex("#f58518");

    // ScottPlot picks the first installed font it knows, a serif one on Debian; a sans-serif one reads better at 12 px.
    private static readonly Lazy<string?> SansSerif = new(() =>
    {
        var families = SkiaSharp.SKFontManager.Default.GetFontFamilies();
        return new[] { "DejaVu Sans", "Liberation Sans", "Noto Sans", "Arial", "Helvetica" }.FirstOrDefault(f => families.Contains(f));
    });

    /// <summary>Colours of successive series.</summary>
    public static readonly Color[] Series =
        [Estimate, Accent, Color.FromHex("#72b7b2"), Color.FromHex("#b279a2"), Color.FromHex("#9d755d"), Truth];

    /// <summary>A plot with the title and axis labels set and a sans-serif font where the machine has one.</summary>
    public static Plot New(string title, string xLabel, string yLabel)
    {
        var plot = new Plot();
        if (SansSerif.Value is { } font)
        {
            plot.Font.Set(font);
        }

        plot.Title(title, size: 16);
        plot.XLabel(xLabel, size: 13);
        plot.YLabel(yLabel, size: 13);
        plot.Axes.Bottom.TickLabelStyle.FontSize = 12;
        plot.Axes.Left.TickLabelStyle.FontSize = 12;
        return plot;
    }

    /// <summary>
    /// Fits the vertical axis to [<paramref name="low"/>, <paramref name="high"/>] with a margin, so differences of a
    /// few percent fill the plot instead of its top sliver (a zero-based axis hides them).
    /// </summary>
    public static void FitY(Plot plot, double low, double high, double margin = 0.12)
    {
        var span = high - low;
        if (!(span > 0))
        {
            span = Math.Max(Math.Abs(high) * 0.1, 1e-3);
        }

        plot.Axes.SetLimitsY(low - (span * margin), high + (span * margin));
    }

    /// <summary>Category labels at x = 0, 1, …, wrapped onto lines of at most <paramref name="wrap"/> characters.</summary>
    public static void CategoryTicks(Plot plot, IReadOnlyList<string> labels, int wrap = 16)
    {
        var ticks = new ScottPlot.TickGenerators.NumericManual();
        for (var i = 0; i < labels.Count; i++)
        {
            ticks.AddMajor(i, Wrap(labels[i], wrap));
        }

        plot.Axes.Bottom.TickGenerator = ticks;
        plot.Axes.Bottom.MajorTickStyle.Length = 0;
        plot.Axes.SetLimitsX(-0.6, labels.Count - 0.4);
        plot.Grid.XAxisStyle.MajorLineStyle.Width = 0;
    }

    /// <summary>Saves as PNG or SVG by the file's extension (creating its directory).</summary>
    public static void Save(Plot plot, string path, int width = Width, int height = Height)
    {
        if (Path.GetDirectoryName(Path.GetFullPath(path)) is { } dir)
        {
            Directory.CreateDirectory(dir);
        }

        switch (Path.GetExtension(path).ToLowerInvariant())
        {
            case ".svg":
                plot.SaveSvg(path, width, height);
                break;
            case ".png":
                plot.SavePng(path, width, height);
                break;
            default:
                throw new Infrastructure.UsageException($"{path}: a chart is written as .png or .svg.");
        }
    }

    /// <summary>Breaks text at spaces into lines of at most <paramref name="width"/> characters.</summary>
    public static string Wrap(string text, int width)
    {
        var lines = new List<string>();
        var line = string.Empty;
        foreach (var word in text.Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            if (line.Length > 0 && line.Length + 1 + word.Length > width)
            {
                lines.Add(line);
                line = word;
            }
            else
            {
                line = line.Length == 0 ? word : line + " " + word;
            }
        }

        lines.Add(line);
        return string.Join('\n', lines);
    }
}
