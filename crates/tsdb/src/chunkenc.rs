//! Compressed sample chunks: our XOR / delta-of-delta encoding (see docs/format/chunks.md).
//!
//! A chunk holds up to [`MAX_SAMPLES_PER_CHUNK`] float samples of one series in time order.
//! Timestamps are stored as delta-of-deltas in variable-size bit buckets and values as the XOR
//! with the previous value, as in Facebook's Gorilla paper. This module knows nothing of files:
//! callers place the bytes (head memory, block chunk files).

use panoptes_model::Sample;

/// Samples per chunk before a new one is cut: 120 samples ≈ one 2h chunk at a 1m interval,
/// and the compression gain flattens out beyond that.
pub const MAX_SAMPLES_PER_CHUNK: u16 = 120;

/// The encoding byte that precedes a chunk in chunk files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Encoding {
    /// XOR values, delta-of-delta timestamps.
    Xor = 1,
    /// Decimal values as bit-packed deltas or delta-of-deltas of their mantissas, bit-packed
    /// delta-of-delta timestamps; see [`encode_decimal`].
    Decimal = 2,
    /// A time column (inline, or shared with an earlier chunk of the same file) and a value
    /// column (decimal or XOR), both bit-packed relative to their minimum; see
    /// [`encode_columnar`]. Blocks only.
    Columnar = 3,
    /// The head's streaming decimal encoding ([`HeadChunkAppender`]); in memory only, never in
    /// a file, so [`Encoding::from_byte`] does not accept it.
    HeadDecimal = 4,
}

impl Encoding {
    /// Returns the encoding for a stored byte.
    pub fn from_byte(byte: u8) -> Option<Encoding> {
        match byte {
            1 => Some(Encoding::Xor),
            2 => Some(Encoding::Decimal),
            3 => Some(Encoding::Columnar),
            _ => None,
        }
    }
}

/// Size of the sample-count header.
const HEADER_BYTES: usize = 2;

/// Appends bits most-significant first into a byte vector.
#[derive(Debug, Clone, Default)]
struct BitWriter {
    bytes: Vec<u8>,
    /// Free bits in the last byte (0 means a new byte is needed).
    free: u32,
}

impl BitWriter {
    fn write_bit(&mut self, bit: bool) {
        self.write_bits(u64::from(bit), 1);
    }

    /// Appends the low `count` bits of `value` (at most 64), most significant first. Bits that
    /// fit in the free bits of the last byte are or-ed into it in place (most appends of a
    /// steady series are one or two bits).
    #[inline(always)]
    fn write_bits(&mut self, value: u64, count: u32) {
        debug_assert!(count <= 64);
        if count <= self.free {
            // `count` ≤ 7 here, so the mask never shifts by 64; free bits imply a last byte
            // (nothing to write otherwise).
            if let Some(last) = self.bytes.last_mut() {
                self.free -= count;
                *last |= ((value & ((1u64 << count) - 1)) << self.free) as u8;
            }
            return;
        }
        self.write_bits_spilling(value, count);
    }

    /// Appends the low `width` bits (1 to 64) of every value, most significant first, as
    /// [`Self::write_bits`] would one by one, gathering as many as fit in one word per call.
    fn write_all(&mut self, values: impl Iterator<Item = u64>, width: u32) {
        debug_assert!((1..=64).contains(&width));
        if width > 32 {
            values.for_each(|value| self.write_bits(value, width));
            return;
        }
        let (per_word, mask) = (64 / width, (1u64 << width) - 1);
        let (mut word, mut gathered) = (0u64, 0);
        for value in values {
            word = word << width | (value & mask);
            gathered += 1;
            if gathered == per_word {
                self.write_bits(word, gathered * width);
                (word, gathered) = (0, 0);
            }
        }
        if gathered > 0 {
            self.write_bits(word, gathered * width);
        }
    }

    /// [`Self::write_bits`] for bits that need new bytes. The used bits of the last byte and
    /// the new ones are put together in one big-endian word, which replaces the last byte with
    /// one copy (two words when they do not fit in 64 bits). Not inlined, so that the in-place
    /// case stays a few instructions at every call site.
    #[inline(never)]
    fn write_bits_spilling(&mut self, value: u64, count: u32) {
        let used = (8 - self.free) % 8;
        if used + count > 64 {
            self.write_bits(value >> 32, count - 32);
            self.write_bits(value & 0xffff_ffff, 32);
            return;
        }
        let value = if count == 64 { value } else { value & ((1u64 << count) - 1) };
        let total = used + count;
        let mut word = value << (64 - total);
        if used > 0 {
            let last = self.bytes.pop().expect("a partly used byte");
            word |= u64::from(last >> self.free) << (64 - used);
        }
        let new_bytes = total.div_ceil(8) as usize;
        let len = self.bytes.len();
        if self.bytes.capacity() - len < 8 {
            // Grow by a quarter (at least 16 bytes) instead of doubling: head chunks live for
            // hours, and doubling would leave a third of their memory unused on average.
            self.bytes.reserve_exact((len / 4).max(16));
        }
        // The whole word in one fixed-size store (no copy of a variable length), then only
        // the bytes that hold bits are kept.
        self.bytes.extend_from_slice(&word.to_be_bytes());
        self.bytes.truncate(len + new_bytes);
        self.free = new_bytes as u32 * 8 - total;
    }
}

/// Where the XOR encoder puts its bits: a [`BitWriter`], or a [`BitCount`] that only adds them
/// up (to learn the size of an encoding without writing it).
trait BitSink {
    fn put_bits(&mut self, value: u64, count: u32);

    fn put_bit(&mut self, bit: bool) {
        self.put_bits(u64::from(bit), 1);
    }
}

impl BitSink for BitWriter {
    fn put_bits(&mut self, value: u64, count: u32) {
        self.write_bits(value, count);
    }
}

/// Counts the bits an encoding takes.
#[derive(Default)]
struct BitCount(usize);

impl BitSink for BitCount {
    fn put_bits(&mut self, _value: u64, count: u32) {
        self.0 += count as usize;
    }
}

/// Reads bits most-significant first from a byte slice.
#[derive(Debug, Clone)]
struct BitReader {
    /// Bit position from the start of the data.
    position: usize,
}

impl BitReader {
    fn read_bit(&mut self, data: &[u8]) -> Option<bool> {
        self.read_bits(data, 1).map(|b| b == 1)
    }

    fn read_bits(&mut self, data: &[u8], count: u32) -> Option<u64> {
        // Fast path: the bits lie within the 8 bytes from the current one, read as one word.
        let byte_index = self.position / 8;
        let used = (self.position % 8) as u32;
        if count > 0
            && count + used <= 64
            && let Some(word) = data.get(byte_index..byte_index + 8)
        {
            let word = u64::from_be_bytes(word.try_into().expect("8 bytes"));
            self.position += count as usize;
            return Some((word << used) >> (64 - count));
        }
        self.read_bits_bytewise(data, count)
    }

    /// Reads `count` bits byte by byte: near the end of the data, and when they span 9 bytes.
    fn read_bits_bytewise(&mut self, data: &[u8], count: u32) -> Option<u64> {
        let mut value: u64 = 0;
        let mut left = count;
        while left > 0 {
            let byte = *data.get(self.position / 8)?;
            let used = (self.position % 8) as u32;
            let available = 8 - used;
            let take = left.min(available);
            let bits = (u64::from(byte) >> (available - take)) & ((1u64 << take) - 1);
            value = if take == 64 { bits } else { (value << take) | bits };
            self.position += take as usize;
            left -= take;
        }
        Some(value)
    }
}

/// Encodes samples into an XOR chunk.
#[derive(Debug, Clone)]
pub struct XorAppender {
    writer: BitWriter,
    count: u16,
    t: i64,
    delta: i64,
    v: f64,
    leading: u32,
    trailing: u32,
}

impl Default for XorAppender {
    fn default() -> Self {
        Self::new()
    }
}

impl XorAppender {
    /// Returns an empty chunk appender.
    pub fn new() -> Self {
        let mut bytes = Vec::with_capacity(32);
        bytes.extend_from_slice(&[0; HEADER_BYTES]);
        let writer = BitWriter { bytes, free: 0 };
        Self { writer, count: 0, t: 0, delta: 0, v: 0.0, leading: u32::MAX, trailing: 0 }
    }

    /// Returns the number of samples appended.
    pub fn count(&self) -> u16 {
        self.count
    }

    /// Returns whether the chunk holds [`MAX_SAMPLES_PER_CHUNK`] samples and must be cut.
    pub fn is_full(&self) -> bool {
        self.count >= MAX_SAMPLES_PER_CHUNK
    }

    /// Returns the encoded chunk (header included) so far.
    pub fn bytes(&self) -> &[u8] {
        &self.writer.bytes
    }

    /// Returns the encoded size in bytes.
    pub fn len_bytes(&self) -> usize {
        self.writer.bytes.len()
    }

    /// Consumes the appender and returns the finished chunk bytes.
    pub fn finish(self) -> Vec<u8> {
        self.writer.bytes
    }

    /// Appends a sample; the caller guarantees `t` is after the previous sample's timestamp.
    ///
    /// # Panics
    ///
    /// Panics in debug builds when the chunk is full or `t` does not increase.
    pub fn append(&mut self, t: i64, v: f64) {
        debug_assert!(self.count < u16::MAX);
        debug_assert!(self.count == 0 || t > self.t, "chunk timestamps must increase: {t} after {}", self.t);
        match self.count {
            0 => {
                self.writer.write_bits(t as u64, 64);
                self.writer.write_bits(v.to_bits(), 64);
            }
            1 => {
                let delta = t.wrapping_sub(self.t);
                write_delta_of_delta(&mut self.writer, delta);
                self.delta = delta;
                self.write_value(v);
            }
            _ => {
                let delta = t.wrapping_sub(self.t);
                write_delta_of_delta(&mut self.writer, delta.wrapping_sub(self.delta));
                self.delta = delta;
                self.write_value(v);
            }
        }
        self.t = t;
        self.v = v;
        self.count += 1;
        self.writer.bytes[..HEADER_BYTES].copy_from_slice(&self.count.to_be_bytes());
    }

    fn write_value(&mut self, v: f64) {
        write_xor_value(&mut self.writer, self.v, v, &mut self.leading, &mut self.trailing);
    }
}

/// Writes `v` as the XOR with `previous` (see docs/format/chunks.md); `leading` starts at
/// `u32::MAX` (no window yet).
fn write_xor_value(
    writer: &mut impl BitSink,
    previous: f64,
    v: f64,
    leading_window: &mut u32,
    trailing_window: &mut u32,
) {
    let xor = v.to_bits() ^ previous.to_bits();
    if xor == 0 {
        writer.put_bit(false);
        return;
    }
    writer.put_bit(true);
    // Five bits hold the leading-zero count, so it is capped at 31.
    let leading = xor.leading_zeros().min(31);
    let trailing = xor.trailing_zeros();
    if *leading_window != u32::MAX && leading >= *leading_window && trailing >= *trailing_window {
        writer.put_bit(false);
        let significant = 64 - *leading_window - *trailing_window;
        writer.put_bits(xor >> *trailing_window, significant);
        return;
    }
    *leading_window = leading;
    *trailing_window = trailing;
    let significant = 64 - leading - trailing;
    writer.put_bit(true);
    writer.put_bits(u64::from(leading), 5);
    // 64 significant bits do not fit in six bits; 0 stands for 64 (0 never occurs otherwise).
    writer.put_bits(u64::from(significant & 63), 6);
    writer.put_bits(xor >> trailing, significant);
}

/// Bit buckets for delta-of-deltas: (prefix bits, prefix length, value bits).
const DOD_BUCKETS: [(u64, u32, u32); 3] = [(0b10, 2, 14), (0b110, 3, 17), (0b1110, 4, 20)];

fn write_delta_of_delta(writer: &mut BitWriter, dod: i64) {
    if dod == 0 {
        writer.write_bit(false);
        return;
    }
    for (prefix, prefix_len, bits) in DOD_BUCKETS {
        let limit = 1i64 << (bits - 1);
        // Two's complement in `bits` bits, as the decoder sign-extends it.
        if dod >= -limit && dod < limit {
            writer.write_bits(prefix, prefix_len);
            writer.write_bits(dod as u64 & ((1u64 << bits) - 1), bits);
            return;
        }
    }
    writer.write_bits(0b1111, 4);
    writer.write_bits(dod as u64, 64);
}

fn read_delta_of_delta(reader: &mut BitReader, data: &[u8]) -> Option<i64> {
    let mut ones = 0;
    while ones < 4 && reader.read_bit(data)? {
        ones += 1;
    }
    let bits = match ones {
        0 => return Some(0),
        1 => 14,
        2 => 17,
        3 => 20,
        _ => return reader.read_bits(data, 64).map(|v| v as i64),
    };
    let raw = reader.read_bits(data, bits)?;
    // Sign-extend from `bits` bits.
    let shift = 64 - bits;
    Some(((raw << shift) as i64) >> shift)
}

/// Returns the number of samples in encoded chunk bytes.
pub fn sample_count(bytes: &[u8]) -> u16 {
    match bytes {
        [a, b, ..] => u16::from_be_bytes([*a, *b]),
        _ => 0,
    }
}

/// Decodes an XOR chunk held in any byte container (owned, shared or memory-mapped).
#[derive(Debug, Clone)]
pub struct XorIterator<B> {
    data: B,
    reader: BitReader,
    remaining: u16,
    read: u16,
    t: i64,
    delta: i64,
    v: f64,
    leading: u32,
    trailing: u32,
    corrupt: bool,
}

impl<B: AsRef<[u8]>> XorIterator<B> {
    /// Returns an iterator over the chunk `data` (header included).
    pub fn new(data: B) -> Self {
        let remaining = sample_count(data.as_ref());
        Self {
            data,
            reader: BitReader { position: HEADER_BYTES * 8 },
            remaining,
            read: 0,
            t: 0,
            delta: 0,
            v: 0.0,
            leading: 0,
            trailing: 0,
            corrupt: false,
        }
    }

    /// Returns whether decoding stopped because the bytes ended before the header's count.
    pub fn is_corrupt(&self) -> bool {
        self.corrupt
    }

    fn decode_next(&mut self) -> Option<Sample> {
        let data = self.data.as_ref();
        let reader = &mut self.reader;
        match self.read {
            0 => {
                self.t = reader.read_bits(data, 64)? as i64;
                self.v = f64::from_bits(reader.read_bits(data, 64)?);
            }
            1 => {
                self.delta = read_delta_of_delta(reader, data)?;
                self.t = self.t.wrapping_add(self.delta);
                self.v = read_value(reader, data, self.v, &mut self.leading, &mut self.trailing)?;
            }
            _ => {
                let dod = read_delta_of_delta(reader, data)?;
                self.delta = self.delta.wrapping_add(dod);
                self.t = self.t.wrapping_add(self.delta);
                self.v = read_value(reader, data, self.v, &mut self.leading, &mut self.trailing)?;
            }
        }
        self.read += 1;
        Some(Sample::new(self.t, self.v))
    }
}

fn read_value(
    reader: &mut BitReader,
    data: &[u8],
    previous: f64,
    leading: &mut u32,
    trailing: &mut u32,
) -> Option<f64> {
    if !reader.read_bit(data)? {
        return Some(previous);
    }
    if reader.read_bit(data)? {
        *leading = reader.read_bits(data, 5)? as u32;
        let mut significant = reader.read_bits(data, 6)? as u32;
        if significant == 0 {
            significant = 64;
        }
        *trailing = 64u32.checked_sub(*leading + significant)?;
    }
    let significant = 64 - *leading - *trailing;
    let bits = reader.read_bits(data, significant)?;
    Some(f64::from_bits(previous.to_bits() ^ (bits << *trailing)))
}

impl<B: AsRef<[u8]>> Iterator for XorIterator<B> {
    type Item = Sample;

    fn next(&mut self) -> Option<Sample> {
        if self.remaining == 0 || self.corrupt {
            return None;
        }
        self.remaining -= 1;
        let sample = self.decode_next();
        if sample.is_none() {
            self.corrupt = true;
        }
        sample
    }
}

/// Powers of ten that convert exactly to `f64` (10^0 … 10^15).
const POWERS_OF_TEN: [f64; 16] = [1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15];

/// Largest mantissa kept: integers up to 2^53 are exact in `f64`.
const MAX_MANTISSA: f64 = 9_007_199_254_740_992.0;

/// Returns the mantissas of `values` at the smallest common scale 10^k such that every value is
/// exactly `mantissa / 10^k`, or `None` (NaN, infinities, -0.0, too many digits).
fn decimal_mantissas(values: impl Iterator<Item = f64> + Clone) -> Option<(u8, Vec<i64>)> {
    let mut scale = 0usize;
    for v in values.clone() {
        if !v.is_finite() || (v == 0.0 && v.is_sign_negative()) {
            return None;
        }
        while scale < POWERS_OF_TEN.len() {
            let m = (v * POWERS_OF_TEN[scale]).round();
            if m.abs() <= MAX_MANTISSA && (m / POWERS_OF_TEN[scale]).to_bits() == v.to_bits() {
                break;
            }
            scale += 1;
        }
        if scale == POWERS_OF_TEN.len() {
            return None;
        }
    }
    let power = POWERS_OF_TEN[scale];
    let mut mantissas = Vec::new();
    for v in values {
        let m = (v * power).round();
        if m.abs() > MAX_MANTISSA || (m / power).to_bits() != v.to_bits() {
            return None;
        }
        mantissas.push(m as i64);
    }
    Some((scale as u8, mantissas))
}

fn zigzag(value: i64) -> u64 {
    ((value << 1) ^ (value >> 63)) as u64
}

fn unzigzag(value: u64) -> i64 {
    ((value >> 1) as i64) ^ -((value & 1) as i64)
}

/// Writes integers zigzag-encoded at one bit width: a width byte, then the packed bits.
fn write_packed(writer: &mut BitWriter, values: &[i64]) {
    let width = values.iter().map(|&v| 64 - zigzag(v).leading_zeros()).max().unwrap_or(0);
    writer.write_bits(u64::from(width), 8);
    if width > 0 {
        writer.write_all(values.iter().map(|&v| zigzag(v)), width);
    }
}

/// Writes one integer zigzag-encoded with a 7-bit length prefix (for first values and deltas).
fn write_sized(writer: &mut BitWriter, value: i64) {
    let bits = zigzag(value);
    let width = 64 - bits.leading_zeros();
    writer.write_bits(u64::from(width), 7);
    if width > 0 {
        writer.write_bits(bits, width);
    }
}

fn read_sized(reader: &mut BitReader, data: &[u8]) -> Option<i64> {
    let width = reader.read_bits(data, 7)? as u32;
    if width > 64 {
        return None;
    }
    if width == 0 { Some(0) } else { reader.read_bits(data, width).map(unzigzag) }
}

fn read_packed(reader: &mut BitReader, data: &[u8], count: usize) -> Option<Vec<i64>> {
    let width = reader.read_bits(data, 8)? as u32;
    if width > 64 {
        return None;
    }
    (0..count).map(|_| if width == 0 { Some(0) } else { reader.read_bits(data, width).map(unzigzag) }).collect()
}

/// Returns successive differences (`order` 1) or differences of differences (`order` 2),
/// after the first `order` values, which are returned as they are.
fn differences(values: &[i64], order: u8) -> (Vec<i64>, Vec<i64>) {
    let deltas: Vec<i64> = values.windows(2).map(|w| w[1].wrapping_sub(w[0])).collect();
    if order == 1 || deltas.is_empty() {
        return (values.iter().take(1).copied().collect(), deltas);
    }
    let second: Vec<i64> = deltas.windows(2).map(|w| w[1].wrapping_sub(w[0])).collect();
    (vec![values[0], deltas[0]], second)
}

/// Encodes samples whose values are all short decimals (what most exporters produce: counters,
/// integers, values with a few decimal places) far smaller than XOR can, as VictoriaMetrics does.
/// Returns `None` when a value is not exactly representable (NaN, staleness markers,
/// infinities, -0.0, more than 15 decimal places) or there are no samples.
///
/// Layout after the shared `count: u16` header: a bit stream of `t0` (64 bits), the first
/// delta and packed delta-of-delta timestamps, the scale `k` (8 bits), the order (8 bits: 1
/// deltas, 2 delta-of-deltas), the first mantissa (and first delta for order 2), and packed
/// differences. See docs/format/chunks.md.
pub fn encode_decimal(samples: &[Sample]) -> Option<Vec<u8>> {
    if samples.is_empty() || samples.len() > usize::from(u16::MAX) {
        return None;
    }
    let (scale, mantissas) = decimal_mantissas(samples.iter().map(|s| s.v))?;
    let times: Vec<i64> = samples.iter().map(|s| s.t).collect();
    let mut writer = BitWriter { bytes: (samples.len() as u16).to_be_bytes().to_vec(), free: 0 };
    writer.write_bits(times[0] as u64, 64);
    let (time_heads, time_residuals) = differences(&times, 2);
    if let Some(&first_delta) = time_heads.get(1) {
        write_sized(&mut writer, first_delta);
        write_packed(&mut writer, &time_residuals);
    }
    // Pick the order that packs narrower: deltas suit gauges, delta-of-deltas steady counters.
    let width = |values: &[i64]| values.iter().map(|&v| 64 - zigzag(v).leading_zeros()).max().unwrap_or(0);
    let (_, first_order) = differences(&mantissas, 1);
    let (second_heads, second_order) = differences(&mantissas, 2);
    let use_second = mantissas.len() > 2
        && (width(&second_order) as usize) * second_order.len() + 71
            < (width(&first_order) as usize) * first_order.len();
    writer.write_bits(u64::from(scale), 8);
    writer.write_bits(if use_second { 2 } else { 1 }, 8);
    write_sized(&mut writer, mantissas[0]);
    if use_second {
        write_sized(&mut writer, second_heads[1]);
        write_packed(&mut writer, &second_order);
    } else {
        write_packed(&mut writer, &first_order);
    }
    Some(writer.bytes)
}

/// Decodes a chunk written by [`encode_decimal`]; `None` when the bytes are malformed.
pub fn decode_decimal(data: &[u8]) -> Option<Vec<Sample>> {
    let count = usize::from(sample_count(data));
    if count == 0 {
        return Some(Vec::new());
    }
    let mut reader = BitReader { position: HEADER_BYTES * 8 };
    let t0 = reader.read_bits(data, 64)? as i64;
    let mut times = Vec::with_capacity(count);
    times.push(t0);
    if count > 1 {
        let mut delta = read_sized(&mut reader, data)?;
        times.push(t0.wrapping_add(delta));
        for r in read_packed(&mut reader, data, count - 2)? {
            delta = delta.wrapping_add(r);
            times.push(times[times.len() - 1].wrapping_add(delta));
        }
    }
    let scale = reader.read_bits(data, 8)? as usize;
    let order = reader.read_bits(data, 8)?;
    let power = *POWERS_OF_TEN.get(scale)?;
    let m0 = read_sized(&mut reader, data)?;
    let mut mantissas = Vec::with_capacity(count);
    mantissas.push(m0);
    match order {
        1 => {
            for d in read_packed(&mut reader, data, count - 1)? {
                mantissas.push(mantissas[mantissas.len() - 1].wrapping_add(d));
            }
        }
        2 => {
            let mut delta = read_sized(&mut reader, data)?;
            mantissas.push(m0.wrapping_add(delta));
            for r in read_packed(&mut reader, data, count.saturating_sub(2))? {
                delta = delta.wrapping_add(r);
                mantissas.push(mantissas[mantissas.len() - 1].wrapping_add(delta));
            }
        }
        _ => return None,
    }
    Some(times.into_iter().zip(mantissas).map(|(t, m)| Sample::new(t, m as f64 / power)).collect())
}

/// Encodes one chunk for a block: the decimal encoding when it applies and is smaller, XOR
/// otherwise.
pub fn encode_block_chunk(samples: &[Sample]) -> (Encoding, Vec<u8>) {
    let mut xor = XorAppender::new();
    for sample in samples {
        xor.append(sample.t, sample.v);
    }
    match encode_decimal(samples) {
        Some(decimal) if decimal.len() < xor.len_bytes() => (Encoding::Decimal, decimal),
        _ => (Encoding::Xor, xor.finish()),
    }
}

/// Decodes a whole chunk of any encoding; `None` when the bytes are malformed.
pub fn decode_chunk(encoding: Encoding, bytes: &[u8]) -> Option<Vec<Sample>> {
    match encoding {
        Encoding::Xor => {
            let mut iterator = XorIterator::new(bytes);
            let samples: Vec<Sample> = iterator.by_ref().collect();
            (!iterator.is_corrupt()).then_some(samples)
        }
        Encoding::Decimal => decode_decimal(bytes),
        Encoding::Columnar => decode_columnar(bytes, None),
        Encoding::HeadDecimal => decode_head_decimal(bytes),
    }
}

/// Encodes at most [`MAX_SAMPLES_PER_CHUNK`] samples (sorted, unique timestamps) as the head
/// closes a chunk, in its smallest form; `None` when there are none.
pub fn encode_closed<'a>(samples: impl IntoIterator<Item = &'a Sample>) -> Option<(Encoding, Vec<u8>)> {
    let mut appender = HeadChunkAppender::new();
    for sample in samples {
        appender.append(sample.t, sample.v);
    }
    (appender.count() > 0).then(|| appender.finish())
}

/// Returns a standalone chunk (any encoding but a shared columnar one) with only its samples
/// from `min_valid` on: as it is when all of them are, re-encoded by [`encode_closed`] when
/// only some are, `None` when none is or it does not decode. `span`, the first and last sample
/// times when known, spares decoding a chunk that lies wholly on one side.
pub fn chunk_from(
    encoding: Encoding,
    bytes: std::borrow::Cow<'_, [u8]>,
    span: Option<(i64, i64)>,
    min_valid: i64,
) -> Option<(Encoding, std::borrow::Cow<'_, [u8]>)> {
    match span {
        Some((min_t, _)) if min_t >= min_valid => return Some((encoding, bytes)),
        Some((_, max_t)) if max_t < min_valid => return None,
        _ => {}
    }
    let samples = decode_chunk(encoding, &bytes)?;
    if samples.first().is_some_and(|s| s.t >= min_valid) {
        return Some((encoding, bytes));
    }
    let (encoding, bytes) = encode_closed(samples.iter().filter(|s| s.t >= min_valid))?;
    Some((encoding, std::borrow::Cow::Owned(bytes)))
}

/// Encodes samples (sorted, unique timestamps) into chunks of at most `MAX_SAMPLES_PER_CHUNK`.
pub fn encode_chunks(samples: &[Sample]) -> Vec<(i64, i64, Vec<u8>)> {
    samples
        .chunks(usize::from(MAX_SAMPLES_PER_CHUNK))
        .map(|part| {
            let mut appender = XorAppender::new();
            for sample in part {
                appender.append(sample.t, sample.v);
            }
            (part[0].t, part[part.len() - 1].t, appender.finish())
        })
        .collect()
}

/// Largest number of samples in one block chunk. Blocks are read whole chunk by chunk, and
/// longer chunks spread their fixed cost (header, first values, widths, index entry and CRC)
/// over more samples: 240 samples are 40 minutes at a 10 s interval.
pub const MAX_SAMPLES_PER_BLOCK_CHUNK: usize = 240;

/// Time column tag of a columnar chunk: the timestamps follow.
const TIMES_INLINE: u8 = 0;
/// Time column tag of a columnar chunk: the timestamps are those of an earlier chunk.
const TIMES_SHARED: u8 = 1;
/// Value column tag: decimal mantissas.
const VALUES_DECIMAL: u8 = 1;
/// Value column tag: XOR of successive values.
const VALUES_XOR: u8 = 2;

/// Writes integers relative to their minimum at one bit width: the minimum (sized), a 7-bit
/// width, then every `value − minimum` in that many bits (none when the width is 0). Unlike
/// zigzag, this costs no sign bit when all values lie on one side of zero (counter deltas).
fn write_offset_packed(writer: &mut BitWriter, values: &[i64]) {
    let Some(&min) = values.iter().min() else { return };
    let width = offset_width(values, min);
    write_sized(writer, min);
    writer.write_bits(u64::from(width), 7);
    if width > 0 {
        writer.write_all(values.iter().map(|&v| v.wrapping_sub(min) as u64), width);
    }
}

fn offset_width(values: &[i64], min: i64) -> u32 {
    values.iter().map(|&v| 64 - (v.wrapping_sub(min) as u64).leading_zeros()).max().unwrap_or(0)
}

/// Returns the bits [`write_offset_packed`] takes for `values`.
fn offset_packed_bits(values: &[i64]) -> usize {
    let Some(&min) = values.iter().min() else { return 0 };
    let sized = 7 + (64 - zigzag(min).leading_zeros()) as usize;
    sized + 7 + offset_width(values, min) as usize * values.len()
}

fn read_offset_packed(reader: &mut BitReader, data: &[u8], count: usize, out: &mut Vec<i64>) -> Option<()> {
    if count == 0 {
        return Some(());
    }
    let min = read_sized(reader, data)?;
    let width = reader.read_bits(data, 7)? as u32;
    if width > 64 {
        return None;
    }
    for _ in 0..count {
        let offset = if width == 0 { 0 } else { reader.read_bits(data, width)? };
        out.push(min.wrapping_add(offset as i64));
    }
    Some(())
}

/// Encodes the time column of a columnar chunk: `t0` in 64 bits, then the first delta (sized)
/// and the `count − 2` delta-of-deltas packed relative to their minimum. Regular intervals cost
/// nothing per sample (width 0). Padded to a whole byte, so equal columns are equal bytes.
pub fn encode_time_column(times: &[i64]) -> Vec<u8> {
    let mut writer = BitWriter::default();
    let Some(&t0) = times.first() else { return writer.bytes };
    writer.write_bits(t0 as u64, 64);
    if times.len() > 1 {
        let (heads, residuals) = differences(times, 2);
        write_sized(&mut writer, heads[1]);
        write_offset_packed(&mut writer, &residuals);
    }
    writer.bytes
}

/// Encodes the value column of a columnar chunk: a tag byte, then the decimal form when every
/// value allows it and it is smaller, XOR otherwise.
fn encode_value_column(values: &[f64]) -> Vec<u8> {
    let decimal = decimal_mantissas(values.iter().copied()).map(|(scale, mantissas)| {
        let mut decimal = BitWriter { bytes: vec![VALUES_DECIMAL], free: 0 };
        decimal.write_bits(u64::from(scale), 8);
        write_sized(&mut decimal, mantissas[0]);
        let (_, deltas) = differences(&mantissas, 1);
        let (second_heads, second) = differences(&mantissas, 2);
        // Delta-of-deltas pay for a sized first delta; they win on steady counters.
        let use_second = mantissas.len() > 2 && offset_packed_bits(&second) + 71 < offset_packed_bits(&deltas);
        decimal.write_bits(if use_second { 2 } else { 1 }, 8);
        if use_second {
            write_sized(&mut decimal, second_heads[1]);
            write_offset_packed(&mut decimal, &second);
        } else {
            write_offset_packed(&mut decimal, &deltas);
        }
        decimal.bytes
    });
    // The XOR form is only sized when a decimal one exists (most block chunks), and written
    // when it is the smaller or the only one.
    if let Some(decimal) = decimal {
        let mut bits = BitCount::default();
        write_xor_values(&mut bits, values);
        if decimal.len() < 1 + bits.0.div_ceil(8) {
            return decimal;
        }
    }
    let mut xor = BitWriter { bytes: vec![VALUES_XOR], free: 0 };
    write_xor_values(&mut xor, values);
    xor.bytes
}

/// Writes a value column's XOR form after its tag: the first value's bits, then each value
/// XOR-ed with the one before.
fn write_xor_values(writer: &mut impl BitSink, values: &[f64]) {
    let (mut leading, mut trailing) = (u32::MAX, 0);
    writer.put_bits(values[0].to_bits(), 64);
    for pair in values.windows(2) {
        write_xor_value(writer, pair[0], pair[1], &mut leading, &mut trailing);
    }
}

/// How a columnar chunk gets its timestamps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeSource<'a> {
    /// The encoded time column (from [`encode_time_column`]) is stored in the chunk.
    Inline(&'a [u8]),
    /// The chunk whose entry starts at this offset of the same chunk file holds the same
    /// timestamps inline.
    Shared(u64),
}

/// Encodes a columnar chunk (blocks, and closed head chunks with a shared column): `count: u16` big-endian, a time tag byte (0 inline
/// followed by the time column, 1 shared followed by the owner's entry offset as a uvarint),
/// then the value column. Series scraped together have identical timestamps, so a block
/// writer stores their time column once and lets the other chunks point to it.
///
/// # Panics
///
/// Panics in debug builds when `samples` is empty or longer than `u16::MAX`.
pub fn encode_columnar(samples: &[Sample], times: TimeSource<'_>) -> Vec<u8> {
    debug_assert!(!samples.is_empty() && samples.len() <= usize::from(u16::MAX));
    let mut out = (samples.len() as u16).to_be_bytes().to_vec();
    match times {
        TimeSource::Inline(column) => {
            out.push(TIMES_INLINE);
            out.extend_from_slice(column);
        }
        TimeSource::Shared(owner) => {
            out.push(TIMES_SHARED);
            crate::encoding::put_uvarint(&mut out, owner);
        }
    }
    let values: Vec<f64> = samples.iter().map(|s| s.v).collect();
    out.extend_from_slice(&encode_value_column(&values));
    out
}

/// Encodes the owner of a shared time column kept apart from any chunk (the head's, see
/// `head/times.rs`): a columnar chunk's count and inline time column without values, which
/// [`decode_columnar_into`] accepts as `owner`.
pub fn encode_time_owner(times: &[i64]) -> Vec<u8> {
    debug_assert!(!times.is_empty() && times.len() <= usize::from(u16::MAX));
    let mut out = (times.len() as u16).to_be_bytes().to_vec();
    out.push(TIMES_INLINE);
    out.extend_from_slice(&encode_time_column(times));
    out
}

/// Returns a columnar chunk that shares its time column with `owner` (an entry from
/// [`encode_time_owner`]) rewritten with the column inline, so that it decodes alone; `None`
/// when the bytes are not such a pair.
pub fn with_inline_times(chunk: &[u8], owner: &[u8]) -> Option<Vec<u8>> {
    if chunk.get(2) != Some(&TIMES_SHARED) || owner.get(2) != Some(&TIMES_INLINE) || chunk.get(..2) != owner.get(..2) {
        return None;
    }
    let mut cursor = crate::encoding::Cursor::at(chunk, 3);
    cursor.uvarint()?;
    let values = chunk.get(cursor.position()..)?;
    let mut out = Vec::with_capacity(owner.len() + values.len());
    out.extend_from_slice(owner);
    out.extend_from_slice(values);
    Some(out)
}

/// Returns the entry offset of the chunk whose timestamps a columnar chunk shares, `None` when
/// its timestamps are inline or the bytes are malformed.
pub fn columnar_time_owner(data: &[u8]) -> Option<u64> {
    match data.get(2)? {
        &TIMES_SHARED => crate::encoding::Cursor::at(data, 3).uvarint(),
        _ => None,
    }
}

/// Decodes the `count` timestamps of a time column starting at `start` into `times` (cleared
/// first), using `residuals` as scratch; returns the byte where the column ends.
fn decode_time_column(
    data: &[u8],
    start: usize,
    count: usize,
    times: &mut Vec<i64>,
    residuals: &mut Vec<i64>,
) -> Option<usize> {
    times.clear();
    let mut reader = BitReader { position: start * 8 };
    let t0 = reader.read_bits(data, 64)? as i64;
    times.reserve(count);
    times.push(t0);
    if count > 1 {
        let mut delta = read_sized(&mut reader, data)?;
        let mut t = t0.wrapping_add(delta);
        times.push(t);
        residuals.clear();
        read_offset_packed(&mut reader, data, count - 2, residuals)?;
        for &r in residuals.iter() {
            delta = delta.wrapping_add(r);
            t = t.wrapping_add(delta);
            times.push(t);
        }
    }
    Some(reader.position.div_ceil(8))
}

/// Buffers reused across [`decode_columnar_into`] calls, so that decoding many chunks does not
/// allocate per chunk.
///
/// `times` stays decoded after a chunk that shares its timestamps: the next shared chunk with
/// an owner of the same bytes (in a block, most series share one time column) takes them
/// without decoding them again.
#[derive(Debug, Default)]
pub struct ColumnarScratch {
    times: Vec<i64>,
    residuals: Vec<i64>,
    /// The bytes of the owner chunk `times` were decoded from; empty when `times` came from an
    /// inline column or a decoding failed.
    times_owner: Vec<u8>,
}

/// Decodes a columnar chunk; `owner` is the data of the chunk whose timestamps it shares (see
/// [`columnar_time_owner`]). `None` when the bytes are malformed or the owner is missing.
pub fn decode_columnar(data: &[u8], owner: Option<&[u8]>) -> Option<Vec<Sample>> {
    let mut out = Vec::new();
    decode_columnar_into(data, owner, &mut ColumnarScratch::default(), &mut out)?;
    Some(out)
}

/// Decodes a columnar chunk as [`decode_columnar`] does, appending its samples to `out`.
/// Returns `None`, leaving `out` as it was, when the bytes are malformed or the owner is missing.
pub fn decode_columnar_into(
    data: &[u8],
    owner: Option<&[u8]>,
    scratch: &mut ColumnarScratch,
    out: &mut Vec<Sample>,
) -> Option<()> {
    let before = out.len();
    let decoded = decode_columnar_appending(data, owner, scratch, out);
    if decoded.is_none() {
        out.truncate(before);
    }
    decoded
}

fn decode_columnar_appending(
    data: &[u8],
    owner: Option<&[u8]>,
    scratch: &mut ColumnarScratch,
    out: &mut Vec<Sample>,
) -> Option<()> {
    let count = usize::from(sample_count(data));
    if count == 0 {
        return None;
    }
    let ColumnarScratch { times, residuals, times_owner } = scratch;
    let values_start = match *data.get(2)? {
        TIMES_INLINE => {
            times_owner.clear();
            decode_time_column(data, 3, count, times, residuals)?
        }
        TIMES_SHARED => {
            let owner = owner?;
            if usize::from(sample_count(owner)) != count || owner.get(2) != Some(&TIMES_INLINE) {
                return None;
            }
            let mut cursor = crate::encoding::Cursor::at(data, 3);
            cursor.uvarint()?;
            // Equal bytes decode to equal times (comparing ~100 bytes is far cheaper).
            if times_owner.as_slice() != owner {
                times_owner.clear();
                decode_time_column(owner, 3, count, times, residuals)?;
                times_owner.extend_from_slice(owner);
            }
            cursor.position()
        }
        _ => return None,
    };
    let tag = *data.get(values_start)?;
    let mut reader = BitReader { position: (values_start + 1) * 8 };
    out.reserve(count);
    match tag {
        VALUES_XOR => {
            let mut v = f64::from_bits(reader.read_bits(data, 64)?);
            out.push(Sample::new(times[0], v));
            let (mut leading, mut trailing) = (0, 0);
            for &t in &times[1..] {
                v = read_value(&mut reader, data, v, &mut leading, &mut trailing)?;
                out.push(Sample::new(t, v));
            }
        }
        VALUES_DECIMAL => {
            let power = *POWERS_OF_TEN.get(reader.read_bits(data, 8)? as usize)?;
            let m0 = read_sized(&mut reader, data)?;
            let order = reader.read_bits(data, 8)?;
            residuals.clear();
            match order {
                1 => {
                    read_offset_packed(&mut reader, data, count - 1, residuals)?;
                    let mut m = m0;
                    out.push(Sample::new(times[0], m as f64 / power));
                    for (&t, &d) in times[1..].iter().zip(residuals.iter()) {
                        m = m.wrapping_add(d);
                        out.push(Sample::new(t, m as f64 / power));
                    }
                }
                2 if count > 2 => {
                    let mut delta = read_sized(&mut reader, data)?;
                    let mut m = m0.wrapping_add(delta);
                    read_offset_packed(&mut reader, data, count - 2, residuals)?;
                    out.push(Sample::new(times[0], m0 as f64 / power));
                    out.push(Sample::new(times[1], m as f64 / power));
                    for (&t, &r) in times[2..].iter().zip(residuals.iter()) {
                        delta = delta.wrapping_add(r);
                        m = m.wrapping_add(delta);
                        out.push(Sample::new(t, m as f64 / power));
                    }
                }
                _ => return None,
            }
        }
        _ => return None,
    }
    Some(())
}

/// Bucket of a head-decimal integer: (prefix bits, prefix length, value bits). Sized for
/// scrape jitter (timestamps), gauge steps and counter increments.
const HEAD_BUCKETS: [(u64, u32, u32); 3] = [(0b10, 2, 8), (0b110, 3, 14), (0b1110, 4, 22)];

fn write_head_integer(writer: &mut BitWriter, value: i64) {
    match head_integer_code(value) {
        Some((code, len)) => writer.write_bits(code, len),
        None => {
            writer.write_bits(0b1111, 4);
            writer.write_bits(value as u64, 64);
        }
    }
}

/// Writes two head-decimal integers (a sample's time and value) with one call when their codes
/// fit in 64 bits together, as they do unless one needs the 64-bit escape.
fn write_head_integer_pair(writer: &mut BitWriter, first: i64, second: i64) {
    match (head_integer_code(first), head_integer_code(second)) {
        (Some((a, a_len)), Some((b, b_len))) => writer.write_bits(a << b_len | b, a_len + b_len),
        _ => {
            write_head_integer(writer, first);
            write_head_integer(writer, second);
        }
    }
}

/// Returns the bits of a head-decimal integer (bucket prefix then value, at most 26 bits) and
/// their count, or `None` when it needs the escape prefix and all 64 bits.
#[inline]
fn head_integer_code(value: i64) -> Option<(u64, u32)> {
    if value == 0 {
        return Some((0, 1));
    }
    for (prefix, prefix_len, bits) in HEAD_BUCKETS {
        let limit = 1i64 << (bits - 1);
        if value >= -limit && value < limit {
            return Some((prefix << bits | (value as u64 & ((1u64 << bits) - 1)), prefix_len + bits));
        }
    }
    None
}

fn read_head_integer(reader: &mut BitReader, data: &[u8]) -> Option<i64> {
    // Fast path: the prefix and the value bits (at most 4 + 22, or the prefix 1111 alone) lie
    // within the 8 bytes from the current one, read as one word.
    let used = (reader.position % 8) as u32;
    if let Some(word) = data.get(reader.position / 8..reader.position / 8 + 8) {
        let word = u64::from_be_bytes(word.try_into().expect("8 bytes")) << used;
        let ones = (!word).leading_zeros().min(4);
        let bits = match ones {
            0 => {
                reader.position += 1;
                return Some(0);
            }
            1 => 8,
            2 => 14,
            3 => 22,
            _ => {
                reader.position += 4;
                return reader.read_bits(data, 64).map(|v| v as i64);
            }
        };
        // `used` ≤ 7, so the word holds at least 57 valid bits, and this needs at most 26.
        reader.position += (ones + 1 + bits) as usize;
        let raw = (word << (ones + 1)) >> (64 - bits);
        let shift = 64 - bits;
        return Some(((raw << shift) as i64) >> shift);
    }
    read_head_integer_bitwise(reader, data)
}

/// [`read_head_integer`] bit by bit, near the end of the data.
fn read_head_integer_bitwise(reader: &mut BitReader, data: &[u8]) -> Option<i64> {
    let mut ones = 0;
    while ones < 4 && reader.read_bit(data)? {
        ones += 1;
    }
    let bits = match ones {
        0 => return Some(0),
        1 => 8,
        2 => 14,
        3 => 22,
        _ => return reader.read_bits(data, 64).map(|v| v as i64),
    };
    let raw = reader.read_bits(data, bits)?;
    let shift = 64 - bits;
    Some(((raw << shift) as i64) >> shift)
}

/// Returns `v` as a mantissa at scale `10^scale` when that is exact.
fn mantissa_at(v: f64, scale: u8) -> Option<i64> {
    let power = *POWERS_OF_TEN.get(usize::from(scale))?;
    if !v.is_finite() || (v == 0.0 && v.is_sign_negative()) {
        return None;
    }
    let m = (v * power).round();
    (m.abs() <= MAX_MANTISSA && (m / power).to_bits() == v.to_bits()).then_some(m as i64)
}

/// Appends samples whose values are short decimals, one at a time, for the head (encoding
/// [`Encoding::HeadDecimal`], never written to files): timestamps and mantissas as
/// delta-of-deltas in variable-size buckets, at one scale per chunk that grows when a value
/// needs more decimal places (the chunk is then re-encoded, at most 15 times).
#[derive(Debug, Clone)]
pub struct DecimalAppender {
    writer: BitWriter,
    count: u16,
    scale: u8,
    t: i64,
    delta: i64,
    m: i64,
    m_delta: i64,
}

/// Head-decimal header: the sample count (u16 big-endian) and the scale byte.
const HEAD_DECIMAL_HEADER_BYTES: usize = 3;

impl DecimalAppender {
    fn with_scale(scale: u8) -> Self {
        let mut bytes = Vec::with_capacity(32);
        bytes.extend_from_slice(&[0, 0, scale]);
        Self { writer: BitWriter { bytes, free: 0 }, count: 0, scale, t: 0, delta: 0, m: 0, m_delta: 0 }
    }

    /// Appends a sample whose value is exact at the current scale.
    fn append_mantissa(&mut self, t: i64, m: i64) {
        match self.count {
            0 => {
                self.writer.write_bits(t as u64, 64);
                write_sized(&mut self.writer, m);
            }
            1 => {
                self.delta = t.wrapping_sub(self.t);
                self.m_delta = m.wrapping_sub(self.m);
                write_head_integer_pair(&mut self.writer, self.delta, self.m_delta);
            }
            _ => {
                let delta = t.wrapping_sub(self.t);
                let m_delta = m.wrapping_sub(self.m);
                write_head_integer_pair(
                    &mut self.writer,
                    delta.wrapping_sub(self.delta),
                    m_delta.wrapping_sub(self.m_delta),
                );
                self.delta = delta;
                self.m_delta = m_delta;
            }
        }
        self.t = t;
        self.m = m;
        self.count += 1;
        self.writer.bytes[..HEADER_BYTES].copy_from_slice(&self.count.to_be_bytes());
    }

    /// Appends a sample; returns `false` (and changes nothing) when its value cannot be held at
    /// any scale together with the samples before it (NaN, infinities, -0.0, long fractions).
    fn append(&mut self, t: i64, v: f64) -> bool {
        if let Some(m) = mantissa_at(v, self.scale) {
            self.append_mantissa(t, m);
            return true;
        }
        let Some(scale) = (self.scale + 1..POWERS_OF_TEN.len() as u8).find(|&k| mantissa_at(v, k).is_some()) else {
            return false;
        };
        // The same rational number divided at a larger scale rounds to the same bits, so every
        // earlier value stays exact as long as its mantissa fits; the check below makes sure.
        let Some(samples) = decode_head_decimal(self.writer.bytes.as_slice()) else { return false };
        let mut rescaled = DecimalAppender::with_scale(scale);
        for sample in samples {
            let Some(m) = mantissa_at(sample.v, scale) else { return false };
            rescaled.append_mantissa(sample.t, m);
        }
        let Some(m) = mantissa_at(v, scale) else { return false };
        rescaled.append_mantissa(t, m);
        *self = rescaled;
        true
    }
}

/// Decodes a head-decimal chunk whole; `None` when the bytes are malformed.
pub fn decode_head_decimal(data: &[u8]) -> Option<Vec<Sample>> {
    let mut samples = Vec::new();
    decode_head_decimal_into(data, &mut samples)?;
    Some(samples)
}

/// Decodes a head-decimal chunk as [`decode_head_decimal`] does, appending its samples to `out`.
/// Returns `None`, leaving `out` as it was, when the bytes are malformed.
pub fn decode_head_decimal_into(data: &[u8], out: &mut Vec<Sample>) -> Option<()> {
    let before = out.len();
    let decoded = decode_head_decimal_appending(data, out);
    if decoded.is_none() {
        out.truncate(before);
    }
    decoded
}

/// Returns whether a head-decimal chunk holds a sample with `mint <= t <= maxt`, or `None` when
/// its bytes are malformed, exactly when [`decode_head_decimal`] fails. Reads the chunk as that
/// does but keeps nothing (no value is divided, no sample stored): a select uses it to tell
/// whether a series whose chunk straddles the range has a sample in it, once per series, and
/// the series is decoded again when read.
pub fn head_decimal_has_time_in(data: &[u8], mint: i64, maxt: i64) -> Option<bool> {
    let count = usize::from(sample_count(data));
    POWERS_OF_TEN.get(usize::from(*data.get(2)?))?;
    if count == 0 {
        return Some(false);
    }
    let mut reader = BitReader { position: HEAD_DECIMAL_HEADER_BYTES * 8 };
    let mut t = reader.read_bits(data, 64)? as i64;
    read_sized(&mut reader, data)?;
    let mut is_found = t >= mint && t <= maxt;
    let mut delta = 0i64;
    for _ in 1..count {
        delta = delta.wrapping_add(read_head_integer(&mut reader, data)?);
        // The value's change of delta: read only to move past it.
        read_head_integer(&mut reader, data)?;
        t = t.wrapping_add(delta);
        is_found |= t >= mint && t <= maxt;
    }
    Some(is_found)
}

fn decode_head_decimal_appending(data: &[u8], out: &mut Vec<Sample>) -> Option<()> {
    let count = usize::from(sample_count(data));
    let power = *POWERS_OF_TEN.get(usize::from(*data.get(2)?))?;
    if count == 0 {
        return Some(());
    }
    let mut reader = BitReader { position: HEAD_DECIMAL_HEADER_BYTES * 8 };
    out.reserve(count);
    let mut t = reader.read_bits(data, 64)? as i64;
    let mut m = read_sized(&mut reader, data)?;
    out.push(Sample::new(t, m as f64 / power));
    let (mut delta, mut m_delta) = (0i64, 0i64);
    for _ in 1..count {
        // The second sample's deltas are read as the others' changes of delta, from zero.
        delta = delta.wrapping_add(read_head_integer(&mut reader, data)?);
        m_delta = m_delta.wrapping_add(read_head_integer(&mut reader, data)?);
        t = t.wrapping_add(delta);
        m = m.wrapping_add(m_delta);
        out.push(Sample::new(t, m as f64 / power));
    }
    Some(())
}

/// The chunk a head series appends to: head-decimal while its values allow it (most
/// exporters' values do, at half XOR's size or less), XOR from the first value that does not
/// (the samples so far are re-encoded).
#[derive(Debug, Clone)]
pub enum HeadChunkAppender {
    /// Short decimal values so far.
    Decimal(DecimalAppender),
    /// Any values.
    Xor(XorAppender),
}

impl Default for HeadChunkAppender {
    fn default() -> Self {
        Self::new()
    }
}

impl HeadChunkAppender {
    /// Returns an empty appender (head-decimal until a value needs XOR).
    pub fn new() -> Self {
        HeadChunkAppender::Decimal(DecimalAppender::with_scale(0))
    }

    /// Appends a sample; the caller guarantees `t` is after the previous sample's timestamp.
    pub fn append(&mut self, t: i64, v: f64) {
        match self {
            HeadChunkAppender::Decimal(decimal) => {
                if decimal.count == 0
                    && let Some(scale) = (0..POWERS_OF_TEN.len() as u8).find(|&k| mantissa_at(v, k).is_some())
                {
                    *decimal = DecimalAppender::with_scale(scale);
                }
                if !decimal.append(t, v) {
                    let mut xor = XorAppender::new();
                    for sample in decode_head_decimal(decimal.writer.bytes.as_slice()).unwrap_or_default() {
                        xor.append(sample.t, sample.v);
                    }
                    xor.append(t, v);
                    *self = HeadChunkAppender::Xor(xor);
                }
            }
            HeadChunkAppender::Xor(xor) => xor.append(t, v),
        }
    }

    /// Returns the number of samples appended.
    pub fn count(&self) -> u16 {
        match self {
            HeadChunkAppender::Decimal(decimal) => decimal.count,
            HeadChunkAppender::Xor(xor) => xor.count(),
        }
    }

    /// Returns the timestamp of the last sample appended, which the chunk holds; `None` when
    /// it is empty.
    pub fn last_time(&self) -> Option<i64> {
        let (count, t) = match self {
            HeadChunkAppender::Decimal(decimal) => (decimal.count, decimal.t),
            HeadChunkAppender::Xor(xor) => (xor.count, xor.t),
        };
        (count > 0).then_some(t)
    }

    /// Returns whether the chunk holds [`MAX_SAMPLES_PER_CHUNK`] samples and must be cut.
    pub fn is_full(&self) -> bool {
        self.count() >= MAX_SAMPLES_PER_CHUNK
    }

    /// Returns the encoding of [`Self::bytes`].
    pub fn encoding(&self) -> Encoding {
        match self {
            HeadChunkAppender::Decimal(_) => Encoding::HeadDecimal,
            HeadChunkAppender::Xor(_) => Encoding::Xor,
        }
    }

    /// Returns the encoded chunk so far.
    pub fn bytes(&self) -> &[u8] {
        match self {
            HeadChunkAppender::Decimal(decimal) => &decimal.writer.bytes,
            HeadChunkAppender::Xor(xor) => xor.bytes(),
        }
    }

    /// Consumes the appender and returns the finished chunk in its smallest form: as appended,
    /// or re-encoded as a decimal chunk ([`encode_decimal`]), whose widths fit the whole chunk.
    pub fn finish(self) -> (Encoding, Vec<u8>) {
        let encoding = self.encoding();
        let bytes = match self {
            HeadChunkAppender::Decimal(decimal) => decimal.writer.bytes,
            HeadChunkAppender::Xor(xor) => xor.finish(),
        };
        let Some(samples) = decode_chunk(encoding, &bytes) else { return (encoding, bytes) };
        match encode_decimal(&samples) {
            Some(decimal) if decimal.len() < bytes.len() => (Encoding::Decimal, decimal),
            _ => (encoding, bytes),
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn head_chunk_last_time_is_its_last_sample_in_either_encoding() {
        let mut appender = HeadChunkAppender::new();
        assert_eq!(appender.last_time(), None, "empty");
        appender.append(1_000, 1.5);
        appender.append(2_000, 2.25);
        assert_eq!(appender.encoding(), Encoding::HeadDecimal);
        assert_eq!(appender.last_time(), Some(2_000));
        // A value no decimal scale holds turns the chunk into XOR, samples re-encoded.
        appender.append(3_000, f64::NAN);
        assert_eq!(appender.encoding(), Encoding::Xor);
        assert_eq!(appender.last_time(), Some(3_000));
        let decoded = decode_chunk(appender.encoding(), appender.bytes()).expect("decodes");
        assert_eq!(decoded.last().map(|s| s.t), appender.last_time());
    }

    fn round_trip(samples: &[(i64, f64)]) -> Vec<(i64, u64)> {
        let mut appender = XorAppender::new();
        for &(t, v) in samples {
            appender.append(t, v);
        }
        let bytes = appender.finish();
        assert_eq!(usize::from(sample_count(&bytes)), samples.len());
        XorIterator::new(bytes.as_slice()).map(|s| (s.t, s.v.to_bits())).collect()
    }

    #[test]
    fn chunk_from_keeps_the_samples_from_the_bound_on() {
        let samples: Vec<Sample> = (0..10).map(|i| Sample::new(i * 1_000, i as f64 * 1.5)).collect();
        let (encoding, bytes) = encode_closed(&samples).expect("samples");
        for span in [Some((0, 9_000)), None] {
            let whole = chunk_from(encoding, std::borrow::Cow::Borrowed(&bytes), span, 0).expect("all kept");
            assert!(matches!(whole.1, std::borrow::Cow::Borrowed(_)), "kept as it is");
            let (part_encoding, part) =
                chunk_from(encoding, std::borrow::Cow::Borrowed(&bytes), span, 4_500).expect("some kept");
            assert_eq!(decode_chunk(part_encoding, &part), Some(samples[5..].to_vec()));
            assert!(chunk_from(encoding, std::borrow::Cow::Borrowed(&bytes), span, 9_001).is_none(), "none kept");
        }
    }

    #[test]
    fn encodes_regular_scrapes_compactly() {
        let samples: Vec<(i64, f64)> = (0..120).map(|i| (1_700_000_000_000 + i * 15_000, 42.0)).collect();
        let mut appender = XorAppender::new();
        for &(t, v) in &samples {
            appender.append(t, v);
        }
        // Constant value and interval: 18 bytes for the first sample, 21 bits for the second, then
        // two bits per sample.
        assert!(appender.len_bytes() <= 51, "{} bytes", appender.len_bytes());
        let expected: Vec<(i64, u64)> = samples.iter().map(|&(t, v)| (t, v.to_bits())).collect();
        assert_eq!(round_trip(&samples), expected);
    }

    #[test]
    fn keeps_special_values_and_extreme_timestamps() {
        let samples = [
            (i64::MIN + 1, f64::NAN),
            (-5, panoptes_model::stale_nan()),
            (0, f64::INFINITY),
            (1, f64::NEG_INFINITY),
            (1 << 40, -0.0),
            (i64::MAX, f64::MIN_POSITIVE),
        ];
        let expected: Vec<(i64, u64)> = samples.iter().map(|&(t, v)| (t, v.to_bits())).collect();
        assert_eq!(round_trip(&samples), expected);
    }

    #[test]
    fn delta_of_delta_bucket_edges_round_trip() {
        // Regression: a delta-of-delta of exactly +8192 once went into the 14-bit bucket and
        // came back as -8192 (found by the model test, seed 1795323708713055757).
        for edge in [8191i64, 8192, 8193, -8192, -8193, 65535, 65536, -65536, -65537, 524287, 524288, -524288, -524289]
        {
            // Deltas 1e6, 1e6 + edge, 1e6: delta-of-deltas are +edge then -edge.
            let samples: Vec<(i64, f64)> =
                vec![(0, 1.0), (1_000_000, 2.0), (2_000_000 + edge, 3.0), (3_000_000 + edge, 4.0)];
            let expected: Vec<(i64, u64)> = samples.iter().map(|&(t, v)| (t, v.to_bits())).collect();
            assert_eq!(round_trip(&samples), expected, "delta-of-delta {edge}");
        }
    }

    #[test]
    fn truncated_chunk_is_reported_corrupt() {
        let mut appender = XorAppender::new();
        for i in 0..10 {
            appender.append(i * 1000 + i * i, i as f64 * 1.5);
        }
        let bytes = appender.finish();
        let mut iterator = XorIterator::new(&bytes[..bytes.len() - 3]);
        let decoded = iterator.by_ref().count();
        assert!(decoded < 10);
        assert!(iterator.is_corrupt());
    }

    #[track_caller]
    fn check_decimal(samples: &[(i64, f64)], expect_decimal: bool) {
        let samples: Vec<Sample> = samples.iter().map(|&(t, v)| Sample::new(t, v)).collect();
        let encoded = encode_decimal(&samples);
        assert_eq!(encoded.is_some(), expect_decimal, "applicability for {samples:?}");
        if let Some(bytes) = encoded {
            let decoded = decode_decimal(&bytes).expect("decodes");
            let bits = |s: &[Sample]| s.iter().map(|x| (x.t, x.v.to_bits())).collect::<Vec<_>>();
            assert_eq!(bits(&decoded), bits(&samples));
        }
    }

    #[test]
    fn decimal_encoding_round_trips_and_refuses_what_it_cannot_keep() {
        check_decimal(&[(0, 1.0), (15_000, 2.0), (30_000, 4.0)], true);
        check_decimal(&[(0, 12.34), (10_003, 12.35), (19_998, -0.01), (30_000, 0.0)], true);
        check_decimal(&[(0, 0.1), (1, 0.2), (2, 0.3)], true);
        check_decimal(&[(7, 42.0)], true);
        // 0.1 + 0.2 needs 17 decimal places.
        check_decimal(&[(0, 0.1), (1, 0.30000000000000004)], false);
        check_decimal(&[(5, 1e15), (6, 2e15)], true);
        check_decimal(&[(5, 123456789.125)], true);
        // A common scale of 10^3 would push 1e15's mantissa past 2^53.
        check_decimal(&[(5, 1e15), (6, 123456789.125)], false);
        check_decimal(&[(0, 1.0), (1, f64::NAN)], false);
        check_decimal(&[(0, panoptes_model::stale_nan())], false);
        check_decimal(&[(0, -0.0)], false);
        check_decimal(&[(0, f64::INFINITY)], false);
        check_decimal(&[(0, 1e300)], false);
        check_decimal(&[(0, std::f64::consts::PI)], true);
        check_decimal(&[(0, 1.0 / 3.0)], false);
    }

    #[test]
    fn decimal_encoding_is_much_smaller_for_counters_and_gauges() {
        let start = 1_700_000_000_000i64;
        let counter: Vec<Sample> =
            (0..120).map(|i| Sample::new(start + i * 10_000 + (i * 7 % 13), (i * 2500 + i * i % 97) as f64)).collect();
        let gauge: Vec<Sample> =
            (0..120).map(|i| Sample::new(start + i * 10_000, 50.0 + ((i * 37 % 200) as f64 - 100.0) / 100.0)).collect();
        for samples in [counter, gauge] {
            let (encoding, bytes) = encode_block_chunk(&samples);
            let mut xor = XorAppender::new();
            for s in &samples {
                xor.append(s.t, s.v);
            }
            assert_eq!(encoding, Encoding::Decimal);
            assert!(bytes.len() * 2 < xor.len_bytes(), "decimal {} bytes, xor {}", bytes.len(), xor.len_bytes());
            assert!(bytes.len() < 120 * 3, "{} bytes for 120 samples", bytes.len());
        }
    }

    /// Values that exercise every path: short decimals (counters, gauges), arbitrary bits,
    /// staleness markers, other NaNs, infinities and both zeros.
    fn value_strategy() -> impl Strategy<Value = f64> {
        prop_oneof![
            4 => (-1_000_000i64..1_000_000, 0u32..4).prop_map(|(m, k)| m as f64 / 10f64.powi(k as i32)),
            2 => any::<f64>(),
            1 => Just(panoptes_model::stale_nan()),
            1 => Just(f64::NAN),
            1 => Just(f64::INFINITY),
            1 => Just(f64::NEG_INFINITY),
            1 => Just(-0.0),
            1 => Just(0.0),
        ]
    }

    /// Encodes `samples` as a columnar chunk inline and sharing its own time column, and checks
    /// that both decode to the same bits.
    #[track_caller]
    fn check_columnar(samples: &[Sample]) -> Vec<u8> {
        let bits = |s: &[Sample]| s.iter().map(|x| (x.t, x.v.to_bits())).collect::<Vec<_>>();
        let times: Vec<i64> = samples.iter().map(|s| s.t).collect();
        let column = encode_time_column(&times);
        let owner = encode_columnar(samples, TimeSource::Inline(&column));
        let decoded = decode_columnar(&owner, None).expect("inline chunk decodes");
        assert_eq!(bits(&decoded), bits(samples));
        assert_eq!(columnar_time_owner(&owner), None);
        let shared = encode_columnar(samples, TimeSource::Shared(12_345));
        assert_eq!(columnar_time_owner(&shared), Some(12_345));
        assert_eq!(decode_columnar(&shared, None), None, "a shared chunk needs its owner");
        let decoded = decode_columnar(&shared, Some(&owner)).expect("shared chunk decodes");
        assert_eq!(bits(&decoded), bits(samples));
        // Decoding into a buffer appends, reuses the scratch, and leaves the buffer as it was on
        // failure.
        let mut scratch = ColumnarScratch::default();
        let first = Sample::new(-1, 0.5);
        let mut out = vec![first];
        assert_eq!(decode_columnar_into(&shared, None, &mut scratch, &mut out), None);
        let truncated = &owner[..owner.len() / 2];
        if decode_columnar_into(truncated, None, &mut scratch, &mut out).is_none() {
            assert_eq!(out.len(), 1, "a chunk that did not decode left samples behind");
        }
        out.truncate(1);
        decode_columnar_into(&shared, Some(&owner), &mut scratch, &mut out).expect("shared chunk decodes");
        decode_columnar_into(&owner, None, &mut scratch, &mut out).expect("inline chunk decodes");
        assert_eq!(bits(&out[..1]), bits(&[first]));
        assert_eq!(bits(&out[1..=samples.len()]), bits(samples));
        assert_eq!(bits(&out[samples.len() + 1..]), bits(samples));
        // Shared chunks in turn, through one scratch that keeps the last owner's times: the same
        // owner again, then one with other times, then the first again.
        let shifted: Vec<Sample> = samples.iter().map(|s| Sample::new(s.t.wrapping_add(1), s.v)).collect();
        let shifted_column = encode_time_column(&shifted.iter().map(|s| s.t).collect::<Vec<_>>());
        let shifted_owner = encode_columnar(&shifted, TimeSource::Inline(&shifted_column));
        let shifted_shared = encode_columnar(&shifted, TimeSource::Shared(1));
        for (chunk, its_owner, want) in [
            (&shared, &owner, samples),
            (&shared, &owner, samples),
            (&shifted_shared, &shifted_owner, &shifted[..]),
            (&shared, &owner, samples),
        ] {
            out.clear();
            decode_columnar_into(chunk, Some(its_owner), &mut scratch, &mut out).expect("shared chunk decodes");
            assert_eq!(bits(&out), bits(want));
        }
        owner
    }

    /// Appends `samples` to a head chunk and checks the open and the finished chunk read back
    /// bit for bit; returns the open chunk's encoding.
    #[track_caller]
    fn check_head_chunk(samples: &[Sample]) -> Encoding {
        let bits = |s: &[Sample]| s.iter().map(|x| (x.t, x.v.to_bits())).collect::<Vec<_>>();
        let mut appender = HeadChunkAppender::new();
        for sample in samples {
            appender.append(sample.t, sample.v);
        }
        assert_eq!(usize::from(appender.count()), samples.len());
        let encoding = appender.encoding();
        assert_eq!(bits(&decode_chunk(encoding, appender.bytes()).expect("open chunk decodes")), bits(samples));
        let (finished_encoding, finished) = appender.finish();
        assert_eq!(bits(&decode_chunk(finished_encoding, &finished).expect("finished chunk decodes")), bits(samples));
        encoding
    }

    #[test]
    fn head_chunks_stay_decimal_through_scale_changes_and_fall_back_to_xor() {
        let decimal: Vec<Sample> = [1.0, 2.5, 2.25, 1e6, -3.125, 0.0, 7.0]
            .iter()
            .enumerate()
            .map(|(i, &v)| Sample::new(i as i64, v))
            .collect();
        assert_eq!(check_head_chunk(&decimal), Encoding::HeadDecimal);
        for special in [panoptes_model::stale_nan(), f64::NAN, f64::INFINITY, f64::NEG_INFINITY, -0.0, 1.0 / 3.0] {
            let mut samples = decimal.clone();
            samples.insert(3, Sample::new(3, special));
            for (i, sample) in samples.iter_mut().enumerate() {
                sample.t = i as i64 * 15_000;
            }
            assert_eq!(check_head_chunk(&samples), Encoding::Xor, "after {special}");
        }
        // A mantissa that a larger scale would push past 2^53 forces XOR too.
        let samples = [Sample::new(0, 9e15), Sample::new(1, 0.5)];
        assert_eq!(check_head_chunk(&samples), Encoding::Xor);
    }

    #[test]
    fn read_bits_reads_what_the_bytewise_reader_reads() {
        let data: Vec<u8> = (0..24u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
        for start in 0..data.len() * 8 {
            for count in 0..=64 {
                let (mut fast, mut bytewise) = (BitReader { position: start }, BitReader { position: start });
                let got = fast.read_bits(&data, count);
                assert_eq!(got, bytewise.read_bits_bytewise(&data, count), "{count} bits at bit {start}");
                if got.is_some() {
                    assert_eq!(fast.position, bytewise.position);
                }
            }
        }
    }

    #[test]
    fn head_decimal_chunks_are_smaller_than_xor_for_exporter_values() {
        let start = 1_700_000_000_000i64;
        let counter: Vec<Sample> =
            (0..120).map(|i| Sample::new(start + i * 10_000 + i * 7 % 50, (i * 2500 + i * i % 97) as f64)).collect();
        let gauge: Vec<Sample> =
            (0..120).map(|i| Sample::new(start + i * 10_000, 50.0 + ((i * 37 % 200) as f64 - 100.0) / 100.0)).collect();
        for samples in [counter, gauge] {
            let mut head = HeadChunkAppender::new();
            let mut xor = XorAppender::new();
            for s in &samples {
                head.append(s.t, s.v);
                xor.append(s.t, s.v);
            }
            assert_eq!(head.encoding(), Encoding::HeadDecimal);
            assert!(
                head.bytes().len() * 3 < xor.len_bytes() * 2,
                "head {} bytes, xor {}",
                head.bytes().len(),
                xor.len_bytes()
            );
        }
    }

    #[test]
    fn columnar_chunks_keep_special_values_and_extreme_timestamps() {
        let samples: Vec<Sample> = [
            (i64::MIN + 1, f64::NAN),
            (-5, panoptes_model::stale_nan()),
            (0, f64::INFINITY),
            (1, f64::NEG_INFINITY),
            (1 << 40, -0.0),
            (1 << 41, 0.0),
            (i64::MAX, f64::MIN_POSITIVE),
        ]
        .iter()
        .map(|&(t, v)| Sample::new(t, v))
        .collect();
        check_columnar(&samples);
        check_columnar(&samples[..1]);
        check_columnar(&samples[..2]);
        // Decimal values ending in a staleness marker fall back to XOR values.
        let mut counter: Vec<Sample> = (0..50).map(|i| Sample::new(i * 15_000, (i * 1000) as f64)).collect();
        counter.push(Sample::new(50 * 15_000, panoptes_model::stale_nan()));
        check_columnar(&counter);
    }

    #[test]
    fn columnar_chunks_with_regular_timestamps_and_counters_are_small() {
        let start = 1_700_000_000_000i64;
        // A constant interval costs no bits per timestamp.
        let times: Vec<i64> = (0..240).map(|i| start + i * 10_000).collect();
        assert!(encode_time_column(&times).len() <= 14, "{} bytes", encode_time_column(&times).len());
        // A counter growing by 1000..1255 per scrape: 8 bits per value relative to the smallest
        // step (zigzag deltas would need 12).
        let counter: Vec<Sample> =
            (0..240).map(|i| Sample::new(times[i as usize], (i * 1000 + (i * 37 % 256)) as f64)).collect();
        let bytes = check_columnar(&counter);
        let values_bytes = bytes.len() - 3 - encode_time_column(&times).len();
        assert!(values_bytes <= 240 * 9 / 8 + 12, "{values_bytes} bytes of values");
    }

    proptest! {
        #[test]
        fn bit_writer_packs_bits_as_a_bit_by_bit_writer_would(
            writes in proptest::collection::vec((any::<u64>(), 0u32..=64), 0..60),
        ) {
            let mut writer = BitWriter::default();
            let mut bits: Vec<bool> = Vec::new();
            for &(value, count) in &writes {
                writer.write_bits(value, count);
                bits.extend((0..count).rev().map(|i| (value >> i) & 1 == 1));
            }
            let expected: Vec<u8> = bits
                .chunks(8)
                .map(|byte| byte.iter().enumerate().fold(0u8, |acc, (i, &bit)| acc | (u8::from(bit) << (7 - i))))
                .collect();
            prop_assert_eq!(&writer.bytes, &expected);
            prop_assert_eq!(writer.free as usize, (8 - bits.len() % 8) % 8);
        }

        #[test]
        fn bit_writer_write_all_equals_one_write_per_value(
            prefix in 0u32..=64,
            width in 1u32..=64,
            values in proptest::collection::vec(any::<u64>(), 0..40),
        ) {
            let (mut gathered, mut one_by_one) = (BitWriter::default(), BitWriter::default());
            gathered.write_bits(u64::MAX, prefix);
            one_by_one.write_bits(u64::MAX, prefix);
            gathered.write_all(values.iter().copied(), width);
            for &value in &values {
                one_by_one.write_bits(value, width);
            }
            prop_assert_eq!(&gathered.bytes, &one_by_one.bytes);
            prop_assert_eq!(gathered.free, one_by_one.free);
        }

        #[test]
        fn counted_xor_size_is_the_written_size(values in proptest::collection::vec(value_strategy(), 1..200)) {
            let mut count = BitCount::default();
            write_xor_values(&mut count, &values);
            let mut writer = BitWriter::default();
            write_xor_values(&mut writer, &values);
            prop_assert_eq!(count.0.div_ceil(8), writer.bytes.len());
        }

        #[test]
        fn decimal_round_trips_arbitrary_decimals(
            start in any::<i64>(),
            points in proptest::collection::vec((1i64..100_000, -1_000_000_000i64..1_000_000_000, 0u32..6), 1..150),
        ) {
            let mut t = start;
            let mut samples = Vec::new();
            for (step, mantissa, scale) in points {
                samples.push((t, mantissa as f64 / 10f64.powi(scale as i32)));
                match t.checked_add(step) { Some(next) => t = next, None => break }
            }
            let encoded: Vec<Sample> = samples.iter().map(|&(t, v)| Sample::new(t, v)).collect();
            if let Some(bytes) = encode_decimal(&encoded) {
                let decoded = decode_decimal(&bytes).unwrap();
                prop_assert_eq!(decoded.iter().map(|s| (s.t, s.v.to_bits())).collect::<Vec<_>>(), samples.iter().map(|&(t, v)| (t, v.to_bits())).collect::<Vec<_>>());
            }
        }

        #[test]
        fn columnar_round_trips_any_values_and_irregular_timestamps(
            start in any::<i64>(),
            points in proptest::collection::vec((1i64..=(1i64 << 40), value_strategy()), 1..300),
        ) {
            let mut t = start;
            let mut samples = Vec::new();
            for (step, v) in points {
                samples.push(Sample::new(t, v));
                match t.checked_add(step) { Some(next) => t = next, None => break }
            }
            check_columnar(&samples);
        }

        #[test]
        fn head_chunks_round_trip_any_values_and_irregular_timestamps(
            start in any::<i64>(),
            points in proptest::collection::vec((1i64..=(1i64 << 40), value_strategy()), 1..120),
        ) {
            let mut t = start;
            let mut samples = Vec::new();
            for (step, v) in points {
                samples.push(Sample::new(t, v));
                match t.checked_add(step) { Some(next) => t = next, None => break }
            }
            check_head_chunk(&samples);
        }

        #[test]
        fn head_decimal_decoder_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = decode_head_decimal(&bytes);
        }

        #[test]
        fn head_decimal_has_time_in_agrees_with_the_decoder(
            bytes in proptest::collection::vec(any::<u8>(), 0..64),
            points in proptest::collection::vec((1i64..=40_000, 0i64..1000), 1..120),
            bounds in (0i64..2_000_000, 0i64..2_000_000),
        ) {
            let (mint, maxt) = (bounds.0.min(bounds.1), bounds.0.max(bounds.1));
            let mut appender = HeadChunkAppender::new();
            let mut t = 0;
            for (step, v) in points {
                t += step;
                appender.append(t, v as f64 / 10.0);
            }
            let encoded = appender.bytes().to_vec();
            for data in [&bytes[..], &encoded[..]] {
                let want = decode_head_decimal(data).map(|samples| samples.iter().any(|s| s.t >= mint && s.t <= maxt));
                prop_assert_eq!(head_decimal_has_time_in(data, mint, maxt), want);
            }
        }

        #[test]
        fn columnar_decoder_never_panics(
            bytes in proptest::collection::vec(any::<u8>(), 0..64),
            owner in proptest::option::of(proptest::collection::vec(any::<u8>(), 0..64)),
        ) {
            let _ = decode_columnar(&bytes, owner.as_deref());
            let _ = columnar_time_owner(&bytes);
        }

        #[test]
        fn decimal_decoder_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = decode_decimal(&bytes);
        }

        #[test]
        fn round_trips_arbitrary_samples(
            start in any::<i64>(),
            steps in proptest::collection::vec((1i64..=(1i64 << 40), any::<f64>()), 1..200),
        ) {
            let mut t = start;
            let mut samples = Vec::new();
            for (step, v) in steps {
                samples.push((t, v));
                match t.checked_add(step) { Some(next) => t = next, None => break }
            }
            samples.truncate(usize::from(u16::MAX));
            let expected: Vec<(i64, u64)> = samples.iter().map(|&(t, v)| (t, v.to_bits())).collect();
            prop_assert_eq!(round_trip(&samples), expected);
        }
    }
}
