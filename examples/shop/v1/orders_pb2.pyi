import datetime

from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from grpc_errgen import options_pb2 as _options_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class OrderError(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ORDER_ERROR_UNSPECIFIED: _ClassVar[OrderError]
    ORDER_NOT_FOUND: _ClassVar[OrderError]
    OUT_OF_STOCK: _ClassVar[OrderError]
    PAYMENT_DECLINED: _ClassVar[OrderError]
    INVENTORY_BUSY: _ClassVar[OrderError]

class Currency(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CURRENCY_UNSPECIFIED: _ClassVar[Currency]
    CURRENCY_EUR: _ClassVar[Currency]
    CURRENCY_USD: _ClassVar[Currency]
ORDER_ERROR_UNSPECIFIED: OrderError
ORDER_NOT_FOUND: OrderError
OUT_OF_STOCK: OrderError
PAYMENT_DECLINED: OrderError
INVENTORY_BUSY: OrderError
CURRENCY_UNSPECIFIED: Currency
CURRENCY_EUR: Currency
CURRENCY_USD: Currency

class LineItem(_message.Message):
    __slots__ = ("sku", "quantity")
    SKU_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    sku: str
    quantity: int
    def __init__(self, sku: _Optional[str] = ..., quantity: _Optional[int] = ...) -> None: ...

class Address(_message.Message):
    __slots__ = ("line1", "country")
    LINE1_FIELD_NUMBER: _ClassVar[int]
    COUNTRY_FIELD_NUMBER: _ClassVar[int]
    line1: str
    country: str
    def __init__(self, line1: _Optional[str] = ..., country: _Optional[str] = ...) -> None: ...

class CreateOrderRequest(_message.Message):
    __slots__ = ("customer_email", "items", "currency", "shipping", "labels", "coupon", "deliver_after", "card_token", "invoice_id")
    class LabelsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    CUSTOMER_EMAIL_FIELD_NUMBER: _ClassVar[int]
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    SHIPPING_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    COUPON_FIELD_NUMBER: _ClassVar[int]
    DELIVER_AFTER_FIELD_NUMBER: _ClassVar[int]
    CARD_TOKEN_FIELD_NUMBER: _ClassVar[int]
    INVOICE_ID_FIELD_NUMBER: _ClassVar[int]
    customer_email: str
    items: _containers.RepeatedCompositeFieldContainer[LineItem]
    currency: Currency
    shipping: Address
    labels: _containers.ScalarMap[str, str]
    coupon: str
    deliver_after: _timestamp_pb2.Timestamp
    card_token: str
    invoice_id: str
    def __init__(self, customer_email: _Optional[str] = ..., items: _Optional[_Iterable[_Union[LineItem, _Mapping]]] = ..., currency: _Optional[_Union[Currency, str]] = ..., shipping: _Optional[_Union[Address, _Mapping]] = ..., labels: _Optional[_Mapping[str, str]] = ..., coupon: _Optional[str] = ..., deliver_after: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., card_token: _Optional[str] = ..., invoice_id: _Optional[str] = ...) -> None: ...

class Order(_message.Message):
    __slots__ = ("id", "customer_email", "items", "status")
    ID_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_EMAIL_FIELD_NUMBER: _ClassVar[int]
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    id: str
    customer_email: str
    items: _containers.RepeatedCompositeFieldContainer[LineItem]
    status: str
    def __init__(self, id: _Optional[str] = ..., customer_email: _Optional[str] = ..., items: _Optional[_Iterable[_Union[LineItem, _Mapping]]] = ..., status: _Optional[str] = ...) -> None: ...

class GetOrderRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class ListOrdersRequest(_message.Message):
    __slots__ = ("customer_email", "page_size", "max_age")
    CUSTOMER_EMAIL_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    MAX_AGE_FIELD_NUMBER: _ClassVar[int]
    customer_email: str
    page_size: int
    max_age: _duration_pb2.Duration
    def __init__(self, customer_email: _Optional[str] = ..., page_size: _Optional[int] = ..., max_age: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class OrderEvent(_message.Message):
    __slots__ = ("order_id", "status")
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    order_id: str
    status: str
    def __init__(self, order_id: _Optional[str] = ..., status: _Optional[str] = ...) -> None: ...

class ItemUpload(_message.Message):
    __slots__ = ("order_id", "item")
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    ITEM_FIELD_NUMBER: _ClassVar[int]
    order_id: str
    item: LineItem
    def __init__(self, order_id: _Optional[str] = ..., item: _Optional[_Union[LineItem, _Mapping]] = ...) -> None: ...

class UploadSummary(_message.Message):
    __slots__ = ("items_added",)
    ITEMS_ADDED_FIELD_NUMBER: _ClassVar[int]
    items_added: int
    def __init__(self, items_added: _Optional[int] = ...) -> None: ...

class TrackRequest(_message.Message):
    __slots__ = ("order_id",)
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    order_id: str
    def __init__(self, order_id: _Optional[str] = ...) -> None: ...
