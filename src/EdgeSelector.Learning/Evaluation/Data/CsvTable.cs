using System.Globalization;

namespace EdgeSelector.Learning.Evaluation.Data;

/// <summary>
/// A forward-only reader of simple comma-separated files: a header line, then one record per line; fields hold no
/// commas, quotes or line breaks (true of every input format evaluation reads). Errors name the file, line and column.
/// </summary>
internal sealed class CsvTable : IDisposable
{
    private readonly StreamReader _reader;
    private Range[] _ranges;
    private string _line = string.Empty;

    private CsvTable(string path, StreamReader reader, string[] header)
    {
        Path = path;
        _reader = reader;
        Header = header;
        _ranges = new Range[header.Length + 1];
    }

    public string Path { get; }

    public string[] Header { get; }

    /// <summary>1-based line number of the current record (the header is line 1).</summary>
    public long LineNumber { get; private set; } = 1;

    public static CsvTable Open(string path)
    {
        if (!File.Exists(path))
        {
            throw new EvaluationInputException($"{path}: file not found.");
        }

        var reader = new StreamReader(path, System.Text.Encoding.UTF8, detectEncodingFromByteOrderMarks: true, bufferSize: 1 << 16);
        var headerLine = reader.ReadLine();
        if (string.IsNullOrWhiteSpace(headerLine))
        {
            reader.Dispose();
            throw new EvaluationInputException($"{path}: empty file (a header line is required).");
        }

        var header = headerLine.Split(',').Select(h => h.Trim()).ToArray();
        return new CsvTable(path, reader, header);
    }

    /// <summary>Index of <paramref name="name"/> in the header, or -1.</summary>
    public int IndexOf(string name) => Array.IndexOf(Header, name);

    /// <summary>Index of a column that must exist.</summary>
    public int Require(string name) =>
        IndexOf(name) is var i and >= 0
            ? i
            : throw new EvaluationInputException($"{Path}: missing column '{name}' (header: {string.Join(',', Header)}).");

    /// <summary>Moves to the next non-empty record; false at the end of the file.</summary>
    public bool MoveNext()
    {
        while (true)
        {
            var line = _reader.ReadLine();
            if (line is null)
            {
                return false;
            }

            LineNumber++;
            if (line.Length == 0)
            {
                continue;
            }

            _line = line;
            var count = line.AsSpan().Split(_ranges, ',');
            if (count != Header.Length)
            {
                throw Error($"has {count} fields, the header has {Header.Length}");
            }

            return true;
        }
    }

    public ReadOnlySpan<char> Field(int column) => _line.AsSpan()[_ranges[column]].Trim();

    public double Double(int column)
    {
        var field = Field(column);
        return double.TryParse(field, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) && double.IsFinite(value)
            ? value
            : throw Error($"column '{Header[column]}': '{field}' is not a finite number");
    }

    public int Int(int column)
    {
        var field = Field(column);
        if (int.TryParse(field, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value))
        {
            return value;
        }

        // Some writers (pandas) print integer columns as "3.0".
        return double.TryParse(field, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) && d == Math.Floor(d) && Math.Abs(d) < int.MaxValue
            ? (int)d
            : throw Error($"column '{Header[column]}': '{field}' is not an integer");
    }

    public EvaluationInputException Error(string what) => new($"{Path}:{LineNumber}: {what}.");

    public void Dispose() => _reader.Dispose();
}
