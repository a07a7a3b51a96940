// The few bits of the protocol-buffers wire format needed to write a TensorFlow
// GraphDef / SavedModel: varints, 32-bit floats, length-delimited bytes and nested
// messages, packed repeated integers. Fields are written in the order they are added.

/** Builds one protobuf message. */
export class ProtoWriter {
  private readonly bytes: number[] = [];

  /** A varint field (int32/int64/enum/bool). Negative numbers are written as 64-bit two's complement, as protobuf does. */
  int(field: number, value: number | bigint | boolean): this {
    this.key(field, 0);
    this.varint(typeof value === 'boolean' ? (value ? 1 : 0) : value);
    return this;
  }

  /** A 32-bit float field. */
  float(field: number, value: number): this {
    this.key(field, 5);
    const b = new DataView(new ArrayBuffer(4));
    b.setFloat32(0, value, true);
    for (let i = 0; i < 4; i++) this.bytes.push(b.getUint8(i));
    return this;
  }

  /** A string (UTF-8) or bytes field. */
  bytesField(field: number, value: string | Uint8Array): this {
    const data = typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
    this.key(field, 2);
    this.varint(data.length);
    for (let i = 0; i < data.length; i++) this.bytes.push(data[i]);
    return this;
  }

  /** A nested message field. */
  message(field: number, value: ProtoWriter): this {
    return this.bytesField(field, value.finish());
  }

  /** A packed repeated varint field. */
  packedInts(field: number, values: readonly number[]): this {
    const inner = new ProtoWriter();
    for (const v of values) inner.varint(v);
    return this.bytesField(field, inner.finish());
  }

  finish(): Uint8Array {
    return Uint8Array.from(this.bytes);
  }

  private key(field: number, wireType: number): void {
    this.varint(field * 8 + wireType);
  }

  private varint(value: number | bigint): void {
    let x = BigInt.asUintN(64, BigInt(value));
    while (x >= 0x80n) {
      this.bytes.push(Number(x & 0x7fn) | 0x80);
      x >>= 7n;
    }
    this.bytes.push(Number(x));
  }
}
