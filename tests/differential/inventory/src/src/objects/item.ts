import { ObjectSchema, Field } from '@objectstack/spec/data';
import { cel } from '@objectstack/spec';

/** A product we stock. */
export const InvItem = ObjectSchema.create({
  name: 'inv_item',
  label: 'Item',
  pluralLabel: 'Items',
  icon: 'package',
  description: 'A stocked product.',
  sharingModel: 'public_read_write',
  nameField: 'name',
  fields: {
    item_no: Field.autonumber({ label: 'Item No', autonumberFormat: 'ITM-{0000}' }),
    sku: Field.text({ label: 'SKU', required: true, unique: true, searchable: true, maxLength: 20 }),
    name: Field.text({ label: 'Name', required: true, searchable: true, maxLength: 80 }),
    description: Field.textarea({ label: 'Description', maxLength: 500 }),
    spec_sheet: Field.html({ label: 'Spec Sheet' }),
    category: Field.select({
      label: 'Category',
      options: [
        { label: 'Raw Material', value: 'raw' },
        { label: 'Finished Good', value: 'finished', default: true },
        { label: 'Consumable', value: 'consumable' },
      ],
    }),
    channels: {
      type: 'multiselect',
      label: 'Sales Channels',
      options: [
        { label: 'Web', value: 'web' },
        { label: 'Retail', value: 'retail' },
        { label: 'Wholesale', value: 'wholesale' },
      ],
    },
    unit: {
      type: 'radio',
      label: 'Unit',
      options: [
        { label: 'Each', value: 'each' },
        { label: 'Box', value: 'box' },
        { label: 'Kilogram', value: 'kg' },
      ],
    },
    handling: {
      type: 'checkboxes',
      label: 'Handling',
      options: [
        { label: 'Fragile', value: 'fragile' },
        { label: 'Cold Chain', value: 'cold' },
        { label: 'Hazardous', value: 'hazmat' },
      ],
    },
    tags: { type: 'tags', label: 'Tags' },
    unit_price: Field.currency({ label: 'Unit Price', required: true, min: 0, scale: 2 }),
    cost: Field.currency({ label: 'Cost', min: 0, scale: 2 }),
    tax_rate: Field.percent({ label: 'Tax Rate', min: 0, max: 100, defaultValue: 20 }),
    weight_kg: Field.number({ label: 'Weight (kg)', min: 0, max: 10000, scale: 3 }),
    reorder_point: Field.number({ label: 'Reorder Point', min: 0, defaultValue: 10 }),
    active: Field.boolean({ label: 'Active', defaultValue: true }),
    launched_on: Field.date({ label: 'Launched On' }),
    last_counted_at: Field.datetime({ label: 'Last Counted At' }),
    supplier: Field.lookup('inv_supplier', { label: 'Supplier', deleteBehavior: 'set_null' }),
    home_warehouse: Field.lookup('inv_warehouse', { label: 'Home Warehouse', deleteBehavior: 'restrict' }),
    attributes: Field.json({ label: 'Attributes' }),
    datasheet: Field.file({ label: 'Datasheet' }),
    barcode: Field.qrcode({ label: 'Barcode', maxLength: 64 }),
    promo_video: { type: 'video', label: 'Promo Video' },
    jingle: { type: 'audio', label: 'Jingle' },
    embedding: Field.vector(3, { label: 'Embedding' }),
    dimensions: { type: 'composite', label: 'Dimensions' },
    variants: { type: 'repeater', label: 'Variants' },
    translations: { type: 'record', label: 'Translations' },
    // ── formulas ─────────────────────────────────────────────────────
    margin: Field.formula({
      label: 'Margin',
      returnType: 'number',
      expression: cel`has(record.cost) && record.cost != null ? double(record.unit_price) - double(record.cost) : double(record.unit_price)`,
    }),
    price_band: Field.formula({
      label: 'Price Band',
      returnType: 'text',
      expression: cel`double(record.unit_price) >= 100.0 ? "premium" : (double(record.unit_price) >= 10.0 ? "standard" : "budget")`,
    }),
    label_text: Field.formula({
      label: 'Label',
      returnType: 'text',
      expression: cel`record.sku + " / " + record.name`,
    }),
    is_kit: Field.formula({
      label: 'Is Kit',
      returnType: 'boolean',
      expression: cel`record.sku.startsWith("KIT-") || record.name.contains("kit")`,
    }),
    tag_count: Field.formula({
      label: 'Tag Count',
      returnType: 'number',
      expression: cel`has(record.tags) && record.tags != null ? size(record.tags) : 0`,
    }),
    cold_chain: Field.formula({
      label: 'Cold Chain',
      returnType: 'boolean',
      expression: cel`has(record.handling) && record.handling != null && record.handling.exists(h, h == "cold")`,
    }),
    sku_key: Field.formula({
      label: 'SKU Key',
      returnType: 'text',
      expression: cel`lower(record.sku) + ":" + string(size(record.name))`,
    }),
    gross_price: Field.formula({
      label: 'Gross Price',
      returnType: 'number',
      expression: cel`double(record.unit_price) * (1.0 + double(record.tax_rate) / 100.0)`,
    }),
    // ── roll-ups over stock movements ────────────────────────────────
    movement_count: Field.summary({
      label: 'Movements',
      summaryOperations: { object: 'inv_stock_movement', field: 'quantity', function: 'count' },
    }),
    received_qty: Field.summary({
      label: 'Received Quantity',
      summaryOperations: { object: 'inv_stock_movement', field: 'quantity', function: 'sum', filter: { kind: 'receipt' } },
    }),
  },
  validations: [
    {
      type: 'script' as const,
      name: 'inv_item_cost_below_price',
      label: 'Cost must not exceed price',
      condition: 'has(record.cost) && record.cost != null && double(record.cost) > double(record.unit_price)',
      message: 'Cost cannot be higher than the unit price.',
      severity: 'error' as const,
    },
  ],
  enable: { apiEnabled: true, searchable: true },
});
